"""Video contracts: readers, writers and what they exchange (no torch import)."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np


@dataclass
class VideoInfo:
    frames: int
    width: int
    height: int
    fps: float


@dataclass
class FrameBatch:
    """Decoded frames (N, H, W, 3) uint8 RGB and their timestamps (N,) in seconds."""

    frames: np.ndarray
    times: np.ndarray


class VideoReader(abc.ABC):
    @abc.abstractmethod
    def probe(self, path) -> VideoInfo:
        """Frame count, size and nominal frame rate, without decoding everything."""

    @abc.abstractmethod
    def read(self, path, *, batch_size: int = 16) -> Iterator[FrameBatch]:
        """Decode frames in batches, in presentation order, with timestamps."""


class VideoWriter(abc.ABC):
    @abc.abstractmethod
    def write(self, path, frames: Iterable[np.ndarray], *, fps: float) -> None:
        """Write (H, W, 3) uint8 RGB frames (or (N, H, W, 3) batches) to ``path``."""
