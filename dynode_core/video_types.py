"""Video contracts: readers, writers and what they exchange (no torch import)."""

from __future__ import annotations

import abc
import queue
import threading
from dataclasses import dataclass
from pathlib import Path
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
        return ThreadedSink(self, path, fps)


class _Done:
    """Queue sentinel: the frames ended normally."""


class _Aborted(Exception):
    """Raised inside a writer whose frames were given up, so it keeps no file."""


class ThreadedSink(FrameSink):
    """A :class:`FrameSink` for any pull-based writer: its ``write`` runs in a thread that
    takes batches from a queue at most ``depth`` long."""

    def __init__(self, writer, path, fps: float, depth: int = 2) -> None:
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._write, args=(writer, Path(path), fps),
                                        daemon=True)
        self._thread.start()

    def _frames(self):
        while True:
            item = self._queue.get()
            if item is _Done:
                return
            if item is _Aborted:
                raise _Aborted()
            yield item

    def _write(self, writer, path: Path, fps: float) -> None:
        try:
            writer.write(path, self._frames(), fps=fps)
        except _Aborted:
            pass
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            self._error = exc
            item = None
            while item is not _Done and item is not _Aborted:
                item = self._queue.get()  # drain so the producer never blocks on a dead writer

    def add(self, frames: np.ndarray) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(frames)

    def close(self) -> None:
        self._queue.put(_Done)
        self._thread.join()
        if self._error is not None:
            raise self._error

    def abort(self) -> None:
        self._queue.put(_Aborted)
        self._thread.join()
