"""Animated GIFs and folders of PNG/JPEG frames through Pillow.

Frames are converted to (H, W, 3) uint8 RGB by :func:`.images.to_rgb`
(grayscale and palette expanded, 16-bit scaled, alpha composited over black).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image, ImageSequence, UnidentifiedImageError

from dynode_core import InputError
from dynode_core import FrameBatch, VideoInfo, VideoReader
from dynode_core import batch_frames

from .images import to_rgb

#: Suffixes of the frame files a folder reader takes (case-insensitive).
FRAME_SUFFIXES = (".png", ".jpg", ".jpeg")

#: GIF delays of 10 ms or less play as 100 ms in browsers; we time them the same way.
GIF_DEFAULT_DELAY_MS = 100

_IMAGE_ERRORS = (OSError, UnidentifiedImageError, ValueError, SyntaxError, EOFError)


def natural_key(name: str) -> list:
    """Sort key comparing digit runs as numbers: ``frame2`` < ``frame10``."""
    parts = re.split(r"(\d+)", name.lower())
    return [int(part) if i % 2 else part for i, part in enumerate(parts)]


def _gif_delays(image: Image.Image) -> Iterator[tuple[Image.Image, int]]:
    """(frame, delay in ms) for every frame of a GIF."""
    for frame in ImageSequence.Iterator(image):
        delay = int(frame.info.get("duration") or 0)
        yield frame, delay if delay > 10 else GIF_DEFAULT_DELAY_MS


class GifReader(VideoReader):
    """Animated (or still) GIFs; times are the sums of the preceding frames' delays."""

    def probe(self, path) -> VideoInfo:
        path = Path(path)
        try:
            with Image.open(path) as image:
                delays = [delay for _frame, delay in _gif_delays(image)]
                width, height = image.size
        except _IMAGE_ERRORS as exc:
            raise InputError(f"cannot read GIF {path}: {exc}") from exc
        return VideoInfo(frames=len(delays), width=width, height=height,
                         fps=1000.0 * len(delays) / sum(delays))

    def read(self, path, *, batch_size: int = 16) -> Iterator[FrameBatch]:
        return batch_frames(self._decode(Path(path)), batch_size)

    def _decode(self, path: Path) -> Iterator[tuple[np.ndarray, float]]:
        elapsed_ms, index = 0, 0
        try:
            with Image.open(path) as image:
                for frame, delay in _gif_delays(image):
                    rgb = to_rgb(frame)
                    index += 1
                    yield rgb, elapsed_ms / 1000.0
                    elapsed_ms += delay
        except _IMAGE_ERRORS as exc:
            raise InputError(f"cannot read GIF {path} (after {index} frames): {exc}") from exc


class FrameFolderReader(VideoReader):
    """A folder of PNG/JPEG frames in natural order (``frame2`` before ``frame10``).

    Times are ``index / fps``. Files with other suffixes and hidden files are
    ignored; every frame must have the first frame's size.
    """

    def __init__(self, fps: float = 25.0) -> None:
        fps = float(fps)
        if not np.isfinite(fps) or fps <= 0:
            raise InputError(f"fps must be positive, got {fps}")
        self.fps = fps

    def files(self, path) -> list[Path]:
        path = Path(path)
        if not path.is_dir():
            raise InputError(f"cannot read frames from {path}: not a folder")
        files = [p for p in path.iterdir() if p.suffix.lower() in FRAME_SUFFIXES
                 and not p.name.startswith(".") and p.is_file()]
        if not files:
            raise InputError(f"cannot read frames from {path}: no "
                             f"{', '.join(FRAME_SUFFIXES)} files in it")
        return sorted(files, key=lambda p: natural_key(p.name))

    def probe(self, path) -> VideoInfo:
        files = self.files(path)
        try:
            with Image.open(files[0]) as image:
                width, height = image.size
        except _IMAGE_ERRORS as exc:
            raise InputError(f"cannot read frame {files[0]}: {exc}") from exc
        return VideoInfo(frames=len(files), width=width, height=height, fps=self.fps)

    def read(self, path, *, batch_size: int = 16) -> Iterator[FrameBatch]:
        return batch_frames(self._decode(self.files(path)), batch_size)

    def _decode(self, files: list[Path]) -> Iterator[tuple[np.ndarray, float]]:
        size = None
        for index, file in enumerate(files):
            try:
                with Image.open(file) as image:
                    rgb = to_rgb(image)
            except _IMAGE_ERRORS as exc:
                raise InputError(f"cannot read frame {file}: {exc}") from exc
            if size is None:
                size = rgb.shape
            elif rgb.shape != size:
                raise InputError(f"frame {file} is {rgb.shape[1]}x{rgb.shape[0]}, but the "
                                 f"first frame is {size[1]}x{size[0]}")
            yield rgb, index / self.fps
