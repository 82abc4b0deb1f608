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


class FrameSink(abc.ABC):
    """A video being written, fed batch by batch: ``add(frames)`` then ``close()`` (the
    file appears, complete) or ``abort()`` (no file is left)."""

    @abc.abstractmethod
    def add(self, frames: np.ndarray) -> None:
        """Append (N, H, W, 3) or (H, W, 3) uint8 RGB frames."""

    @abc.abstractmethod
    def close(self) -> None:
        """Finish the file."""

    @abc.abstractmethod
    def abort(self) -> None:
        """Give the file up: nothing is left at its path."""


class VideoWriter(abc.ABC):
    """Writes frames to a file, atomically.

    ``write`` pulls frames from an iterable; ``open`` returns a :class:`FrameSink` to push
    them into as they are produced (e.g. while the same frames feed an inverter). The
    default ``open`` runs ``write`` in a thread fed through a small queue; a writer that
    can encode as frames arrive overrides it and needs no thread.
    """

    @abc.abstractmethod
    def write(self, path, frames: Iterable[np.ndarray], *, fps: float) -> None:
        """Write (H, W, 3) uint8 RGB frames (or (N, H, W, 3) batches) to ``path``."""

    def open(self, path, *, fps: float) -> FrameSink:
        """A :class:`FrameSink` writing to ``path``."""
        from .video import ThreadedSink

        return ThreadedSink(self, path, fps)
