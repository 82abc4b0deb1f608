"""Aligners that need no model: the same crop in every frame."""

from __future__ import annotations

import math

import numpy as np

from dynode_core import Aligner, Alignment, InputError, no_progress


def rect_quad(x: float, y: float, w: float, h: float) -> np.ndarray:
    """The crop quad (top-left, bottom-left, bottom-right, top-right) of a rectangle."""
    return np.array([[x, y], [x, y + h], [x + w, y + h], [x + w, y]], dtype=np.float64)


def _fixed(name: str, quad: np.ndarray, count: int, size: int, width: int, height: int,
           crop_mode: str | None) -> Alignment:
    quads = np.repeat(quad[None], count, axis=0)
    return Alignment(quads, quads.copy(), ["fixed"] * count, int(size), (int(width), int(height)),
                     aligner=name, crop_mode=crop_mode)


def _no_option(name: str, option) -> None:
    if option:
        raise InputError(f"--align {name} takes no option, got {name}:{option}")


class CenterAligner(Aligner):
    """The largest centred square (the inverter's ``center`` crop, pixel for pixel)."""

    pastes = False
    crop_mode = "center"

    def __init__(self, option=None, **_settings) -> None:
        _no_option("center", option)

    def align(self, frames, *, width, height, count, size, progress=no_progress) -> Alignment:
        side = min(width, height)
        top, left = (height - side) // 2, (width - side) // 2
        return _fixed("center", rect_quad(left, top, side, side), count, size, width, height,
                      "center")


class WholeAligner(Aligner):
    """The whole frame resized to a square (the inverter's ``none`` crop)."""

    pastes = False
    crop_mode = "none"

    def __init__(self, option=None, **_settings) -> None:
        _no_option("none", option)

    def align(self, frames, *, width, height, count, size, progress=no_progress) -> Alignment:
        return _fixed("none", rect_quad(0, 0, width, height), count, size, width, height, "none")


def parse_box(option) -> tuple[float, float, float, float]:
    """``X,Y,W,H`` (pixels, W and H > 0) from ``box:X,Y,W,H``."""
    try:
        values = [float(v) for v in str(option or "").split(",")]
    except ValueError:
        values = []
    if len(values) != 4 or not all(math.isfinite(v) for v in values) or values[2] <= 0 \
            or values[3] <= 0:
        raise InputError(f"--align box needs box:X,Y,W,H in frame pixels with W, H > 0, "
                         f"got box:{option or ''}")
    return tuple(values)


class BoxAligner(Aligner):
    """A fixed box ``X,Y,W,H`` (frame pixels); a box that is not square is stretched."""

    def __init__(self, option=None, **_settings) -> None:
        self.box = parse_box(option)

    def align(self, frames, *, width, height, count, size, progress=no_progress) -> Alignment:
        x, y, w, h = self.box
        if x >= width or y >= height or x + w <= 0 or y + h <= 0:
            raise InputError(f"--align box:{','.join(f'{v:g}' for v in self.box)} lies outside "
                             f"the {width}x{height} frame")
        return _fixed("box", rect_quad(x, y, w, h), count, size, width, height, None)
