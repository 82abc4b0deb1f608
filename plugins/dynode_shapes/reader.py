"""A video reader for world clips: the source ``world:MOTION[:FRAMES[:FPS]]`` renders a clip
of the shapes world (e.g. ``world:circle:64``), so any command that reads a video can use one."""

from __future__ import annotations

import numpy as np

from dynode_core import InputError
from dynode_core import FrameBatch, VideoInfo, VideoReader

from .motions import DEFAULT_FPS, MOTIONS, video
from .world import RESOLUTION, to_uint8


def parse_source(source: str) -> tuple[str, int, float]:
    parts = str(source).split(":")
    if parts[0] != "world" or not 2 <= len(parts) <= 4:
        raise InputError(f"bad world source {source!r}; use world:MOTION[:FRAMES[:FPS]]")
    motion = parts[1]
    if motion not in MOTIONS:
        raise InputError(f"unknown world motion {motion!r}; valid: {', '.join(sorted(MOTIONS))}")
    try:
        frames = int(parts[2]) if len(parts) > 2 else 64
        fps = float(parts[3]) if len(parts) > 3 else DEFAULT_FPS
    except ValueError:
        raise InputError(f"bad world source {source!r}: FRAMES and FPS must be numbers") from None
    if frames < 1 or fps <= 0:
        raise InputError(f"bad world source {source!r}: need FRAMES >= 1 and FPS > 0")
    return motion, frames, fps


class WorldReader(VideoReader):
    """Renders ``world:MOTION[:FRAMES[:FPS]]`` clips (exact ground truth, no codec)."""

    def probe(self, path) -> VideoInfo:
        _, frames, fps = parse_source(path)
        return VideoInfo(frames=frames, width=RESOLUTION, height=RESOLUTION, fps=fps)

    def read(self, path, *, batch_size: int = 16):
        motion, frames, fps = parse_source(path)
        times = np.arange(frames, dtype=np.float64) / fps
        for start in range(0, frames, batch_size):
            t = times[start:start + batch_size]
            clip = video(motion, times=t, fps=fps)
            images = to_uint8(clip.images).numpy()
            yield FrameBatch(frames=np.ascontiguousarray(images), times=t)
