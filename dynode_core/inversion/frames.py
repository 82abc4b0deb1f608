"""Frames as the generator wants them: RGB, square, its resolution, in [-1, 1].

Conversion policy (the same as the bundled image readers'):

- ``uint8`` is kept; ``uint16`` is scaled to 8 bits (value / 257, rounded);
  any other dtype (float, int32, bool) is refused with :class:`InputError`;
- a batch may be (N, H, W) or (N, H, W, 1) grayscale (expanded to RGB),
  (N, H, W, 2) grayscale + alpha or (N, H, W, 4) RGBA (composited over black,
  so fully transparent pixels are black), or (N, H, W, 3) RGB; other channel
  counts are refused;
- frames of any size are fitted to the generator's square resolution by the
  ``crop`` mode: ``center`` takes the largest centred square and resizes it,
  ``none`` resizes the whole frame (the aspect ratio is NOT kept: non-square
  frames are stretched). Resizing is bilinear with antialiasing.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InputError


def to_rgb8(frames) -> np.ndarray:
    """(N, H, W, 3) uint8 RGB from a batch in any accepted layout (see the module policy)."""
    arr = np.asarray(frames)
    if arr.ndim == 3:
        arr = arr[..., None]
    if arr.ndim != 4 or arr.shape[0] == 0:
        raise InputError(f"frames must be a batch (N, H, W[, C]); got an array of shape {arr.shape}")
    if arr.dtype == np.uint16:
        scale = 65535.0
    elif arr.dtype == np.uint8:
        scale = 255.0
    else:
        raise InputError(f"frames must be uint8 or uint16, got {arr.dtype} (convert them to 8-bit RGB)")
    channels = arr.shape[-1]
    if channels not in (1, 2, 3, 4):
        raise InputError(f"frames must have 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA) "
                         f"channels, got {channels}")
    if channels in (2, 4):
        color, alpha = arr[..., :-1].astype(np.float64), arr[..., -1:].astype(np.float64) / scale
        arr = color * alpha
    elif arr.dtype != np.uint8:
        arr = arr.astype(np.float64)
    if arr.dtype != np.uint8:
        arr = np.clip(np.rint(arr * (255.0 / scale)), 0, 255).astype(np.uint8)
    if arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, axis=-1)
    return arr


def _center(x: torch.Tensor) -> torch.Tensor:
    h, w = x.shape[-2:]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    return x[..., top:top + side, left:left + side]


#: crop mode -> how a (N, 3, H, W) batch is cut before resizing.
CROPS = {"center": _center, "none": lambda x: x}


def to_generator_input(frames, resolution: int, crop: str = "center",
                       device="cpu") -> torch.Tensor:
    """(N, 3, resolution, resolution) float32 in [-1, 1] from a batch of frames."""
    if crop not in CROPS:
        raise InputError(f"unknown crop mode {crop!r}; valid: {', '.join(CROPS)}")
    rgb = torch.from_numpy(np.ascontiguousarray(to_rgb8(frames))).to(device)
    x = rgb.permute(0, 3, 1, 2).float() / 127.5 - 1.0
    x = CROPS[crop](x)
    if tuple(x.shape[-2:]) != (resolution, resolution):
        x = F.interpolate(x, size=(resolution, resolution), mode="bilinear", align_corners=False,
                          antialias=True)
    return x.clamp(-1.0, 1.0).contiguous()


class FrameStore:
    """Frames of one size appended to a file and read back by index range (uint8).

    Plain file reads and writes: nothing is memory-mapped, so reading a range
    costs only that range's memory. The file is removed by :meth:`close`.
    """

    def __init__(self, folder: Path) -> None:
        fd, name = tempfile.mkstemp(prefix=".frames.", suffix=".u8", dir=folder)
        os.close(fd)
        self.path = Path(name)
        self.shape: tuple | None = None
        self.count = 0

    def append(self, frames: np.ndarray) -> None:
        frames = np.ascontiguousarray(frames, dtype=np.uint8)
        if self.shape is None:
            self.shape = tuple(frames.shape[1:])
        elif tuple(frames.shape[1:]) != self.shape:
            raise ValueError(f"frames of shape {frames.shape[1:]} do not match {self.shape}")
        with open(self.path, "ab") as f:
            f.write(frames.tobytes())
        self.count += len(frames)

    def read(self, start: int, stop: int) -> np.ndarray:
        stop = min(stop, self.count)
        size = int(np.prod(self.shape))
        with open(self.path, "rb") as f:
            f.seek(start * size)
            data = np.fromfile(f, dtype=np.uint8, count=(stop - start) * size)
        return data.reshape(stop - start, *self.shape)

    def pick(self, indices) -> np.ndarray:
        """The frames at ``indices`` (any order), read through one open file."""
        size = int(np.prod(self.shape))
        out = np.empty((len(indices), *self.shape), np.uint8)
        with open(self.path, "rb") as f:
            for row, index in enumerate(indices):
                f.seek(int(index) * size)
                out[row] = np.fromfile(f, dtype=np.uint8, count=size).reshape(self.shape)
        return out

    def tensors(self, indices) -> "torch.Tensor":
        """The frames at ``indices`` as (n, 3, H, W) float32 in [-1, 1]."""
        import torch

        picked = self.pick([int(i) for i in indices])
        return torch.from_numpy(picked).permute(0, 3, 1, 2).float() / 127.5 - 1.0

    def close(self) -> None:
        self.path.unlink(missing_ok=True)
