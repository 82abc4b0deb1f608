"""Reading and writing videos through the registered video readers and writers.

:func:`read_video` picks a reader by the path's suffix (the ``extensions``
metadata a reader registers) or, for a folder, the reader registered with
``directory=True``; :func:`write_video` picks a writer by suffix. The helpers
:func:`iter_frames` and :func:`batch_frames` are for reader and writer authors.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from .errors import InputError
from .video_types import FrameBatch, FrameSink, VideoInfo

PathLike = str | os.PathLike


def _registry():
    from .plugins import get_registry

    return get_registry()


def _supported(kind: str) -> str:
    """The suffixes (and folders) some registered component of ``kind`` handles."""
    suffixes, folders = set(), False
    for component in _registry().components(kind):
        suffixes.update(ext.lower() for ext in component.meta.get("extensions", ()))
        folders = folders or bool(component.meta.get("directory"))
    listed = ", ".join(sorted(suffixes)) or "(none registered)"
    return listed + (", or a folder of frames" if folders else "")


def _component_for(kind: str, path: Path, *, directory: bool = False):
    """The first component (by name) that handles ``path``; an error lists the valid types."""
    suffix = path.suffix.lower()
    for component in _registry().components(kind):
        if directory and component.meta.get("directory"):
            return component
        if not directory and suffix in {e.lower() for e in component.meta.get("extensions", ())}:
            return component
    what = "a folder" if directory else f"type {suffix or '(no suffix)'!r}"
    verb = "read" if kind == "video_readers" else "write"
    raise InputError(f"cannot {verb} {path}: no video {kind[6:-1]} for {what}; "
                     f"supported: {_supported(kind)}")


def check_writable_video(path: PathLike) -> None:
    """Refuse, before any work, a path no registered video writer handles."""
    _component_for("video_writers", Path(path))


def is_scheme_source(path: PathLike) -> bool:
    """Whether ``path`` is a ``NAME:...`` source a registered reader renders (e.g.
    ``world:circle:64``) rather than a file."""
    return _scheme_reader(path) is not None


def _scheme_reader(path: PathLike):
    """The reader registered with ``scheme=NAME`` for a source written ``NAME:...``
    (e.g. ``world:circle:64``, a clip the shapes world renders), if any."""
    text = str(path)
    name, sep, _ = text.partition(":")
    if not sep or not name.isalpha() or len(name) < 2 or Path(text).exists():
        return None
    for component in _registry().components("video_readers"):
        if component.meta.get("scheme") == name:
            return component
    return None


def get_reader(path: PathLike, *, reader: str | None = None, **options):
    """The :class:`~dynode_core.interfaces.VideoReader` for ``path``.

    ``reader`` names a registered reader instead of choosing by suffix;
    ``options`` go to the reader's factory (e.g. ``fps`` for frame folders).
    """
    scheme = _scheme_reader(path)
    if scheme is not None and reader is None:
        return scheme.create(**options)
    path = Path(path)
    if not path.exists():
        raise InputError(f"cannot read {path}: no such file or folder")
    if reader is not None:
        return _registry().create("video_readers", reader, **options)
    return _component_for("video_readers", path, directory=path.is_dir()).create(**options)


def probe_video(path: PathLike, *, reader: str | None = None, **options) -> VideoInfo:
    """Frame count, size and nominal frame rate of a video, without decoding it all."""
    return get_reader(path, reader=reader, **options).probe(_source(path))


def read_video(path: PathLike, batch_size: int = 16, *, reader: str | None = None,
               **options) -> Iterator[FrameBatch]:
    """Decode ``path`` in batches of at most ``batch_size`` frames.

    Yields :class:`FrameBatch` objects: frames (N, H, W, 3) uint8 RGB and their
    times (N,) in seconds from the first frame. Memory stays bounded by one
    batch. Errors in the file raise :class:`InputError` (possibly after some
    batches were yielded, e.g. for a truncated file).
    """
    if int(batch_size) < 1:
        raise InputError(f"batch_size must be at least 1, got {batch_size}")
    return get_reader(path, reader=reader, **options).read(_source(path),
                                                           batch_size=int(batch_size))


def _source(path: PathLike):
    """A path, or the string itself for a ``scheme:`` source."""
    return str(path) if _scheme_reader(path) is not None else Path(path)


def read_all(path: PathLike, *, reader: str | None = None, **options) -> FrameBatch:
    """Every frame of ``path`` in one :class:`FrameBatch` (frames (T, H, W, 3), times (T,))."""
    frames, times = [], []
    for batch in read_video(path, 64, reader=reader, **options):
        frames.append(batch.frames)
        times.append(batch.times)
    if not frames:
        raise InputError(f"cannot read {path}: it holds no frames")
    return FrameBatch(frames=np.concatenate(frames), times=np.concatenate(times))


def write_video(path: PathLike, frames, fps: float, *, writer: str | None = None,
                **options) -> Path:
    """Write frames to ``path`` atomically with the writer chosen by its suffix.

    ``frames``: an (N, H, W, 3) uint8 array, or an iterable of (H, W, 3) frames,
    (N, H, W, 3) batches or :class:`FrameBatch` objects (streamed, e.g. straight
    from :func:`read_video`). ``options`` go to the writer's factory.
    """
    path = Path(path)
    instance, fps = _writer_for(path, fps, writer, options)
    instance.write(path, frames, fps=fps)
    return path


def _writer_for(path: Path, fps, writer: str | None, options: dict):
    try:
        fps = float(fps)
    except (TypeError, ValueError):
        raise InputError(f"cannot write {path}: fps must be a number, got {fps!r}") from None
    if not np.isfinite(fps) or fps <= 0:
        raise InputError(f"cannot write {path}: fps must be positive, got {fps}")
    if writer is not None:
        return _registry().create("video_writers", writer, **options), fps
    return _component_for("video_writers", path).create(**options), fps


@contextlib.contextmanager
def open_video(path: PathLike, *, fps: float, writer: str | None = None, **options):
    """Push frames into ``path`` as they are produced: ``with open_video(p, fps=25) as
    sink: sink.add(batch)``. The file appears complete when the block ends, and not at
    all when it ends by an exception."""
    instance, fps = _writer_for(Path(path), fps, writer, options)
    sink = instance.open(Path(path), fps=fps)
    try:
        yield sink
    except BaseException:
        sink.abort()
        raise
    sink.close()


def iter_frames(frames) -> Iterator[np.ndarray]:
    """Flatten an array, frames, batches or FrameBatch objects into (H, W, 3) uint8 frames.

    Raises :class:`InputError` for another dtype or shape, or a size change.
    """
    if isinstance(frames, (np.ndarray, FrameBatch)):
        frames = [frames]
    size = None
    index = 0
    for item in frames:
        item = item.frames if isinstance(item, FrameBatch) else np.asarray(item)
        for frame in (item if item.ndim == 4 else [item]):
            if frame.ndim != 3 or frame.shape[-1] != 3 or frame.dtype != np.uint8:
                raise InputError(f"frame {index} must be (H, W, 3) uint8 RGB, got "
                                 f"{frame.dtype} array of shape {tuple(frame.shape)}")
            if size is None:
                size = frame.shape
            elif frame.shape != size:
                raise InputError(f"frame {index} is {frame.shape[1]}x{frame.shape[0]}, "
                                 f"but earlier frames are {size[1]}x{size[0]}")
            index += 1
            yield frame


def batch_frames(pairs: Iterable[tuple[np.ndarray, float]], batch_size: int) -> Iterator[FrameBatch]:
    """Group (frame, time) pairs into :class:`FrameBatch` objects of ``batch_size``."""
    frames: list[np.ndarray] = []
    times: list[float] = []
    for frame, time in pairs:
        frames.append(frame)
        times.append(time)
        if len(frames) == batch_size:
            yield FrameBatch(frames=np.stack(frames), times=np.asarray(times, dtype=np.float64))
            frames, times = [], []
    if frames:
        yield FrameBatch(frames=np.stack(frames), times=np.asarray(times, dtype=np.float64))
