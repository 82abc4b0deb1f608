"""The run's input, decoded once.

:class:`Source` streams the input's frames one batch at a time, exactly once per
run: as the inverter pulls batches, each one is also pushed into the run's
``input.mp4`` copy (a :class:`~dynode_core.video_types.FrameSink`) and its timestamps kept.
A :class:`~dynode_core.inversion.frames.FrameStore` keeps the frames as the generator
sees them (cropped and resized, uint8) in a file beside the run, so the reconstruction
metric reads them back without a second decode. Memory stays bounded by a few batches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import InputError


def source_name(config) -> str:
    """The input a config names (the demo clip when it names none)."""
    return config.source()


def reader_options(config, source: str) -> dict:
    return {"fps": config.fps} if config.fps and Path(source).is_dir() else {}


def check_input_frames(count: int, source: str) -> None:
    """A video must hold at least two frames to have a trajectory."""
    if count == 0:
        raise InputError(f"{source} holds no frames")
    if count == 1:
        raise InputError(f"{source} holds a single frame; a trajectory needs at least two")


@dataclass
class Source:
    """The input of one run: its name, probe and a one-shot stream of its frames.

    ``batches()`` decodes the input (at most ``total`` frames) and copies it to
    ``copy_to`` on the way; it may be iterated once.
    """

    name: str
    info: object
    total: int
    batch_size: int
    options: dict = field(default_factory=dict)
    copy_to: Path | None = None
    progress: object = None
    _used: bool = False

    @property
    def fps(self) -> float:
        return float(self.info.fps)

    def batches(self) -> Iterator:
        if self._used:
            raise RuntimeError(f"{self.name} was streamed already: a run decodes it once")
        self._used = True
        return self._stream()

    def _decoded(self):
        from ..video import read_video
        from ..video_types import FrameBatch

        count = 0
        for batch in read_video(self.name, self.batch_size, **self.options):
            keep = min(len(batch.frames), self.total - count)
            if keep <= 0:
                return
            count += keep
            yield FrameBatch(frames=batch.frames[:keep], times=batch.times[:keep])

    def _stream(self):
        from ..video import open_video

        with open_video(self.copy_to, fps=self.fps) as copy:
            for batch in self._decoded():
                copy.add(batch.frames)
                if self.progress is not None:
                    self.progress(len(batch.frames))
                yield batch
