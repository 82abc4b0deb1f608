"""Video writers: H.264 mp4 through PyAV, animated GIF through Pillow.

Both stream their input (frames, batches or FrameBatch objects, see
:func:`dynode_core.video.iter_frames`) and write atomically: the file appears
complete or not at all.
"""

from __future__ import annotations

import contextlib
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from dynode_core import (FrameBatch, FrameSink, InputError, OutputError, VideoWriter, atomic_path,
                         iter_frames)


def _first_and_rest(path: Path, frames) -> tuple[np.ndarray, Iterator[np.ndarray]]:
    stream = iter_frames(frames)
    first = next(stream, None)
    if first is None:
        raise InputError(f"cannot write {path}: no frames given")
    return first, stream


def pad_even(frame: np.ndarray) -> np.ndarray:
    """Repeat the last row / column so both sides are even (yuv420p needs it)."""
    height, width = frame.shape[:2]
    if height % 2 == 0 and width % 2 == 0:
        return frame
    return np.pad(frame, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")


#: libx264's macroblock tree (on by default) gave two different streams from the same
#: frames, one thread and all (2 of 60 encodes of a 64x64 clip differed, by up to 17
#: levels once decoded): it is turned off. The cost is size: the 64-frame world clip at
#: crf 12 takes 17.1 kB instead of 8.7 kB (mean error 1.74 levels instead of 1.83).
X264_STABLE = {"x264-params": "mbtree=0"}


class Mp4Writer(VideoWriter):
    """H.264 (libx264) in an mp4/mov container, moov atom first (faststart).

    ``crf`` 12 keeps round trips close: on the colourful 64x64 test clip the
    mean abs error is 2.4 levels, of which 2.1 is yuv420p's halved colour
    resolution (crf 0 gives 2.1); ``pix_fmt="yuv444p"`` brings it to 1.3, at
    the cost of players that cannot show it. Raise ``crf`` (18-23) for smaller
    files. An odd width or height is padded to even by repeating the last
    column / row, so the file is one pixel larger on that side. ``fps`` may be
    fractional (29.97 is stored as 30000/1001). Frames are encoded as they
    arrive, so :meth:`open` needs no thread.

    The same frames give the same bytes: RGB is converted to ``pix_fmt`` on one
    thread from a contiguous copy of each frame, libx264 runs ``threads`` threads (1 by
    default; its automatic count, 1.5 per core, gives other bytes on other machines, and
    frame threads varied run to run on small frames) and without macroblock-tree rate
    control (:data:`X264_STABLE`). More threads encode large videos faster, without
    that promise.
    """

    def __init__(self, crf: int = 12, preset: str = "medium", codec: str = "libx264",
                 pix_fmt: str = "yuv420p", threads: int = 1) -> None:
        self.crf, self.preset = int(crf), str(preset)
        self.codec, self.pix_fmt = str(codec), str(pix_fmt)
        self.threads = int(threads)
        if self.threads < 1:
            raise InputError(f"video writer threads must be 1 or more, got {threads}")

    def open(self, path, *, fps: float) -> FrameSink:
        return Mp4Sink(self, Path(path), fps)

    def write(self, path, frames: Iterable[np.ndarray], *, fps: float) -> None:
        sink = self.open(path, fps=fps)
        try:
            for item in frames if not isinstance(frames, (np.ndarray, FrameBatch)) else [frames]:
                sink.add(item)
        except BaseException:
            sink.abort()
            raise
        sink.close()


class Mp4Sink(FrameSink):
    """One mp4 being encoded frame by frame into a temporary file beside ``path``."""

    def __init__(self, writer: Mp4Writer, path: Path, fps: float) -> None:
        self.writer, self.path, self.fps = writer, path, fps
        self._files = contextlib.ExitStack()
        self._out = self._stream = self._size = None
        self._count = 0

    def _start(self, first: np.ndarray) -> None:
        import av

        tmp = self._files.enter_context(atomic_path(self.path))
        self._out = av.open(str(tmp), mode="w", options={"movflags": "+faststart"})
        self._stream = self._out.add_stream(self.writer.codec,
                                            rate=Fraction(self.fps).limit_denominator(1001))
        height, width = pad_even(first).shape[:2]
        self._stream.width, self._stream.height = width, height
        self._stream.pix_fmt = self.writer.pix_fmt
        self._stream.options = {"crf": str(self.writer.crf), "preset": self.writer.preset,
                                **(X264_STABLE if self.writer.codec == "libx264" else {})}
        self._stream.codec_context.thread_count = self.writer.threads
        self._size = first.shape

    def add(self, frames) -> None:
        import av

        for frame in iter_frames(frames):
            if self._size is not None and frame.shape != self._size:
                raise InputError(f"frame {self._count} is {frame.shape[1]}x{frame.shape[0]}, "
                                 f"but earlier frames are {self._size[1]}x{self._size[0]}")
            try:
                if self._out is None:
                    self._start(frame)
                video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(pad_even(frame)),
                                                         format="rgb24")
                video_frame = video_frame.reformat(format=self.writer.pix_fmt, threads=1)
                self._out.mux(self._stream.encode(video_frame))
            except av.error.FFmpegError as exc:
                raise self._failed(exc) from exc
            self._count += 1

    def _failed(self, exc) -> OutputError:
        from .pyav_reader import ffmpeg_reason

        return OutputError(f"cannot write video {self.path}: {ffmpeg_reason(exc)}")

    def close(self) -> None:
        import av

        if self._out is None:
            raise InputError(f"cannot write {self.path}: no frames given")
        try:
            self._out.mux(self._stream.encode(None))
            self._out.close()
        except av.error.FFmpegError as exc:
            self.abort()
            raise self._failed(exc) from exc
        self._files.close()  # the finished file takes its place

    def abort(self) -> None:
        if self._out is not None:
            try:
                self._out.close()
            except Exception:  # noqa: BLE001 - the file is being given up anyway
                pass
        self._files.__exit__(_Abandoned, _Abandoned(), None)  # removes the temporary file


class _Abandoned(Exception):
    """Passed to the temporary file's context when a video is given up."""


def gif_delays_ms(fps: float) -> Iterator[int]:
    """Per-frame GIF delays (10 ms units, at least 20 ms) whose running sum tracks i / fps."""
    index, elapsed = 0, 0
    while True:
        index += 1
        target = int(round(index * 100.0 / fps)) * 10
        delay = max(20, target - elapsed)
        elapsed += delay
        yield delay


class GifWriter(VideoWriter):
    """Animated GIF that loops forever; Pillow picks a palette per frame.

    GIF delays are whole centiseconds and players run frames shorter than
    20 ms at 100 ms, so delays are rounded (their running sum tracks
    ``index / fps``) and never shorter than 20 ms: above 50 fps the GIF plays
    slower than ``fps``. Pillow merges a frame identical to the one before
    into it (adding the delays), and it holds every frame until the file is
    written: use mp4 for long videos.
    """

    def write(self, path, frames: Iterable[np.ndarray], *, fps: float) -> None:
        from PIL import Image

        path = Path(path)
        first, rest = _first_and_rest(path, frames)
        delays = gif_delays_ms(fps)

        def image(frame: np.ndarray) -> Image.Image:
            img = Image.fromarray(frame)
            img.info["duration"] = next(delays)
            return img

        with atomic_path(path) as tmp:
            try:
                image(first).save(tmp, format="GIF", save_all=True, loop=0,
                                  append_images=(image(frame) for frame in rest))
            except (OSError, ValueError) as exc:
                raise OutputError(f"cannot write GIF {path}: {exc}") from exc
