"""Invert a whole video, streamed in batches, into a :class:`LatentTrajectory`."""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
from pathlib import Path
from typing import Iterable

import numpy as np
import torch

from ..errors import InputError
from ..interfaces import FrameBatch, no_progress
from ..trajectory import LatentTrajectory
from .cache import InversionCache, clear_cache, fingerprint
from .frames import CROPS, to_generator_input


def _device(generator) -> torch.device:
    if isinstance(generator, torch.nn.Module):
        for tensor in (*generator.parameters(), *generator.buffers()):
            return tensor.device
    return torch.device("cpu")


@contextlib.contextmanager
def progress_callback(progress, total: int | None, description: str):
    """A ``progress(advance, total=None, description=None)`` callable for ``progress``:
    ``True`` shows progress (:class:`~dynode_core.app.Progressor`: a live line on a
    terminal, plain lines in a log), ``False``/``None`` nothing, a callable is used as is."""
    if callable(progress):
        yield progress
        return
    if not progress:
        yield no_progress
        return
    from ..progress import Progressor

    with Progressor() as bar:
        yield bar.task(description, total)


def smooth(codes: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian smoothing over frames (``sigma`` in frames; edges repeat the end frames).

    Sums shifted copies one offset at a time, so memory stays at twice the codes."""
    if sigma <= 0 or codes.shape[0] < 2:
        return codes
    radius = max(1, int(math.ceil(3 * sigma)))
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64)
    weights = torch.exp(-0.5 * (offsets / sigma) ** 2)
    weights = (weights / weights.sum()).tolist()
    frames = torch.arange(codes.shape[0])
    out = torch.zeros_like(codes)
    for offset, weight in zip(range(-radius, radius + 1), weights):
        out.add_(codes[(frames + offset).clamp(0, codes.shape[0] - 1)], alpha=weight)
    return out


class Rows:
    """A growing array of rows (capacity doubles), so keeping codes makes few, large
    allocations instead of one small tensor per batch."""

    def __init__(self, row_shape: tuple, dtype: torch.dtype):
        self.data = torch.empty((0, *row_shape), dtype=dtype)
        self.count = 0

    def extend(self, rows: torch.Tensor) -> None:
        end = self.count + rows.shape[0]
        if end > self.data.shape[0]:
            grown = torch.empty((max(end, 2 * self.data.shape[0], 64), *self.data.shape[1:]),
                                dtype=self.data.dtype)
            grown[:self.count] = self.data[:self.count]
            self.data = grown
        self.data[self.count:end] = rows
        self.count = end

    def values(self) -> torch.Tensor:
        return self.data[:self.count]


def _sample_digest(path: Path, chunk: int = 1 << 20) -> str:
    """sha256 of a file's first and last MiB: tells videos apart without reading them whole
    (unlike a modification time, it survives copies and rewrites of the same bytes)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        digest.update(f.read(chunk))
        size = f.seek(0, os.SEEK_END)
        if size > chunk:
            f.seek(max(chunk, size - chunk))
            digest.update(f.read(chunk))
    return digest.hexdigest()[:16]


def _source(source, batch_size: int):
    """(batches, total frames or None, fps or None, description dict)."""
    if isinstance(source, (str, os.PathLike)):
        from ..video import probe_video, read_video

        path = Path(source)
        info = probe_video(path)
        ident = {"path": str(path.resolve())}
        if path.is_file():
            ident.update(bytes=path.stat().st_size, sample=_sample_digest(path))
        return read_video(path, batch_size), info.frames, info.fps, ident
    if isinstance(source, FrameBatch):
        source = [source]
    if not isinstance(source, Iterable):
        raise InputError(f"invert_video needs a video path or an iterator of FrameBatch, "
                         f"got {type(source).__name__}")
    return iter(source), None, None, {"path": "<frames>"}


def invert_video(video, generator, inverter=None, *, batch_size: int = 8, crop: str = "center",
                 cache_dir=None, resume: bool = True, smoothing: float = 0.0, progress=True,
                 fps: float | None = None, times=None, source: str | None = None,
                 meta: dict | None = None, on_input=None, **inverter_options) -> LatentTrajectory:
    """Invert every frame of ``video`` into W+ codes of ``generator``.

    ``video``: a path (read with :func:`dynode_core.video.read_video`) or an iterable
    of :class:`FrameBatch` (``fps`` then defaults to 1 / the median frame step).
    ``inverter``: an :class:`~dynode_core.interfaces.Inverter`, or a registry name /
    ``None`` built by :func:`~dynode_core.inversion.select.build_inverter` with
    ``inverter_options`` (``encoder``, ``steps``, ``seed``, ``device``, ``generator_name``).

    Frames are converted as :mod:`dynode_core.inversion.frames` documents (uint16,
    grayscale, alpha) and fitted to the generator's resolution: ``crop="center"``
    cuts the centred square then resizes; ``crop="none"`` resizes the whole frame,
    so non-square frames are stretched (aspect not kept). Batches of ``batch_size``
    frames are inverted one at a time and only their codes are kept, so memory does
    not grow with the video's length.

    ``cache_dir``: codes are cached there per batch with a manifest of the settings;
    with ``resume`` a later call with the same settings continues after the last
    finished batch and a cache made with other settings raises :class:`InputError`;
    ``resume=False`` empties the cache first. ``smoothing``: sigma (in frames) of a
    Gaussian over time applied to the codes (0 = off). ``progress``: ``True`` (rich
    bar), ``False``, or a callable ``progress(advance, total=None, description=None)``
    called after each batch (its exceptions propagate; finished batches stay cached).
    ``times`` replaces the reader's timestamps (one per frame); ``source`` names the
    input in the metadata. ``on_input(x)``, when given, sees every batch as the
    generator sees it ((N, 3, R, R) in [-1, 1], cached batches included), e.g. to keep
    the targets of a reconstruction metric without decoding the video again.
    Returns a ``w+`` trajectory with meta ``source``, ``fps``, ``generator``,
    ``inverter``, ``inverter_config``, ``crop``, ``smoothing`` (+ ``meta``).
    """
    if int(batch_size) < 1:
        raise InputError(f"batch_size must be at least 1, got {batch_size}")
    if crop not in CROPS:
        raise InputError(f"unknown crop mode {crop!r}; valid: {', '.join(CROPS)}")
    inverter, generator_name = _resolve_inverter(inverter, generator, inverter_options)
    batches, total, video_fps, ident = _source(video, int(batch_size))
    inverter_config = inverter.config
    info = {"source": source or ident["path"],
            "generator": generator_name or type(generator).__name__,
            "inverter": inverter_config.get("name", type(inverter).__name__),
            "inverter_config": inverter_config, "crop": crop, "smoothing": float(smoothing),
            **(meta or {})}
    cache = None
    if cache_dir is not None:
        cache = _open_cache(cache_dir, resume, {
            "source": ident, "batch_size": int(batch_size), "crop": crop,
            "generator": {"weights": fingerprint(generator), "resolution": generator.resolution,
                          "num_ws": generator.num_ws, "latent_dim": generator.latent_dim},
            "inverter": inverter_config})
    loop = _BatchLoop(generator, inverter, crop, cache, info["inverter"], on_input,
                      None if times is None else np.asarray(times, dtype=np.float64).reshape(-1))
    with progress_callback(progress, total, "inverting") as report:
        report(0, total=total)
        for index, batch in enumerate(batches):
            loop.add(index, batch)
            report(len(batch.frames))
    seconds, codes = loop.finish(info["source"])
    if fps is None:
        fps = video_fps or (1.0 / float(seconds.diff().median()) if len(seconds) > 1 else 1.0)
    info.setdefault("fps", float(fps))
    return LatentTrajectory(seconds, smooth(codes, float(smoothing)), "w+", info)


def _resolve_inverter(inverter, generator, options: dict):
    """(inverter instance, generator name): a name or ``None`` is built with ``options``."""
    from ..interfaces import require

    generator_name = options.get("generator_name") or generator.name
    if inverter is None or isinstance(inverter, str):
        from .select import build_inverter

        options.setdefault("generator_name", generator_name)
        name = inverter
        inverter = build_inverter(inverter, **options)
        return require(inverter, "inverters", name or "default"), generator_name
    if any(v is not None for k, v in options.items() if k != "generator_name"):
        raise TypeError(f"options {sorted(options)} apply only to an inverter name")
    return require(inverter, "inverters", type(inverter).__name__), generator_name


def _open_cache(cache_dir, resume: bool, settings: dict) -> InversionCache:
    if not resume:
        clear_cache(cache_dir)
    return InversionCache(cache_dir, settings)


class _BatchLoop:
    """Inverts batches one at a time (cached ones are read back), keeping only codes."""

    def __init__(self, generator, inverter, crop, cache, name, on_input, given_times):
        self.generator, self.inverter, self.crop, self.cache = generator, inverter, crop, cache
        self.name, self.on_input, self.given_times = name, on_input, given_times
        self.device = _device(generator)
        self.shape = (generator.num_ws, generator.latent_dim)
        self.codes, self.stamps = Rows(self.shape, torch.float32), Rows((), torch.float64)
        self.done = 0

    def _times(self, batch) -> torch.Tensor:
        n, given = len(batch.frames), self.given_times
        stamps = batch.times if given is None else given[self.done:self.done + n]
        if len(stamps) != n:
            raise InputError(f"times holds {len(given)} entries but the video has more frames")
        return torch.as_tensor(np.asarray(stamps, dtype=np.float64))

    def _input(self, batch) -> torch.Tensor:
        return to_generator_input(batch.frames, self.generator.resolution, self.crop, self.device)

    def add(self, index: int, batch) -> None:
        n, batch_times = len(batch.frames), self._times(batch)
        cached = self.cache.load(index, batch_times) if self.cache is not None else None
        x = None
        if self.on_input is not None:
            x = self._input(batch)
            self.on_input(x)
        if cached is None:
            x = self._input(batch) if x is None else x
            cached = self.inverter.invert(x, self.generator, progress=no_progress)
            cached = cached.detach().cpu().float()
            if tuple(cached.shape) != (n, *self.shape) or not torch.isfinite(cached).all():
                raise InputError(f"inverter {self.name!r} returned codes of shape "
                                 f"{tuple(cached.shape)} (expected ({n}, {self.shape[0]}, "
                                 f"{self.shape[1]}), finite) for batch {index}")
            if self.cache is not None:
                self.cache.save(index, cached, batch_times)
        self.codes.extend(cached)
        self.stamps.extend(batch_times)
        self.done += n

    def finish(self, source: str) -> tuple[torch.Tensor, torch.Tensor]:
        """(times, codes) of every frame; a video without frames or with other times fails."""
        if not self.done:
            raise InputError(f"{source} holds no frames")
        if self.given_times is not None and self.done != len(self.given_times):
            raise InputError(f"times holds {len(self.given_times)} entries but the video has "
                             f"{self.done} frames")
        return self.stamps.values(), self.codes.values()
