"""Video files through PyAV (FFmpeg): mp4, mov, avi, mkv, webm and anything FFmpeg demuxes.

Frames come out as (H, W, 3) uint8 RGB in presentation order with their real
presentation timestamps (pts * time_base, relative to the first frame), so a
variable-frame-rate video keeps its timing. Damaged input raises
:class:`~dynode_core.errors.InputError` with one line naming the file:
a file FFmpeg cannot open, a decoding error, a file with no video stream or
no decodable frame, and a truncated file (fewer packets than the container
declares, which PyAV would otherwise decode partially without complaint).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

import av
import numpy as np

from dynode_core import InputError
from dynode_core import FrameBatch, VideoInfo, VideoReader
from dynode_core import batch_frames


def ffmpeg_reason(exc: Exception) -> str:
    """FFmpeg's one-line reason for an error, without the errno and the file name."""
    reason = getattr(exc, "strerror", None) or str(exc)
    reason = " ".join(str(reason).split())
    return reason[:1].lower() + reason[1:]


@contextlib.contextmanager
def open_video(path: Path):
    """Open ``path`` for reading, yielding (container, video stream)."""
    try:
        container = av.open(str(path), mode="r")
    except av.error.FFmpegError as exc:
        raise InputError(f"cannot read video {path}: {ffmpeg_reason(exc)} "
                         f"(not a video FFmpeg can read, or a damaged file)") from exc
    with container:
        if not container.streams.video:
            raise InputError(f"cannot read video {path}: it has no video stream")
        stream = container.streams.video[0]
        if stream.codec_context is None:
            raise InputError(f"cannot read video {path}: no decoder for its video stream "
                             f"(unknown codec or a damaged header)")
        yield container, stream


def _nominal_fps(stream) -> float:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    return float(rate) if rate else 0.0


class PyAVReader(VideoReader):
    """Decodes any FFmpeg-readable video with PyAV, one batch at a time.

    ``threads``: FFmpeg decoding threads (``0`` lets FFmpeg choose).
    """

    def __init__(self, threads: int = 0) -> None:
        self.threads = int(threads)

    def probe(self, path) -> VideoInfo:
        """Declared frame count (estimated from the duration where the container has none)."""
        path = Path(path)
        with open_video(path) as (container, stream):
            fps = _nominal_fps(stream)
            frames = int(stream.frames or 0)
            if not frames:
                if stream.duration is not None and stream.time_base is not None:
                    seconds = float(stream.duration * stream.time_base)
                else:
                    seconds = (container.duration or 0) / av.time_base
                frames = int(round(seconds * fps))
            ctx = stream.codec_context
            return VideoInfo(frames=frames, width=int(ctx.width), height=int(ctx.height), fps=fps)

    def read(self, path, *, batch_size: int = 16) -> Iterator[FrameBatch]:
        return batch_frames(self._decode(Path(path)), batch_size)

    def _decode(self, path: Path) -> Iterator[tuple[np.ndarray, float]]:
        with open_video(path) as (container, stream):
            # Slice threads only: frame threading hides decoding errors of a truncated last packet.
            stream.thread_type = "SLICE"
            stream.codec_context.thread_count = self.threads
            declared = int(stream.frames or 0)
            time_base = stream.time_base
            step = 1.0 / (_nominal_fps(stream) or 25.0)
            packets = decoded = 0
            first_pts, time = None, -step
            try:
                for packet in container.demux(stream):
                    packets += 1 if packet.size else 0
                    for frame in packet.decode():
                        if frame.pts is not None and time_base is not None:
                            first_pts = frame.pts if first_pts is None else first_pts
                            time = float((frame.pts - first_pts) * time_base)
                        else:  # no timestamp: one nominal frame after the previous one
                            time += step
                        decoded += 1
                        yield frame.to_ndarray(format="rgb24"), time
            except av.error.FFmpegError as exc:
                raise InputError(f"video {path} is damaged at frame {decoded}: "
                                 f"{ffmpeg_reason(exc)}") from exc
        if declared and packets < declared:
            raise InputError(f"video {path} is truncated or damaged: its container declares "
                             f"{declared} frames but only {packets} could be read")
        if decoded == 0:
            raise InputError(f"cannot read video {path}: it has no decodable frames")
