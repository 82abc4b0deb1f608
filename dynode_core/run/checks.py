"""Everything about a run that can be checked before its first stage.

A bad edit string, component name, encoder, checkpoint, propagation or output size
must fail in seconds with one line, not after hours of inversion, and must leave no
run folder behind. :func:`check_run` resolves what the stages will need (the edits,
the inverter) so they do not resolve it twice.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError, OutputError

#: The most frames one output video may have unless ``max_output_frames`` is raised.
MAX_OUTPUT_FRAMES = 100_000
#: Bytes per pixel of an output video, for the disk estimate: the bundled world's clips
#: take 0.02-0.06 at crf 12 (measured); camera footage compresses less, so keep a margin.
VIDEO_BYTES_PER_PIXEL = 0.5


@dataclass
class Checked:
    """What the checks resolved: the inverter and the edits (name -> resolved edit)."""

    inverter: object
    edits: dict = field(default_factory=dict)


def _edits(config, generator) -> dict:
    from ..edits import parse_edit, resolve_edit
    from .stages import edit_name

    edits = {}
    for spec in config.edits:
        parsed = parse_edit(spec)
        edits[edit_name(parsed)] = resolve_edit(parsed, generator)
    return edits


def _inverter(config, device: str):
    from ..interfaces import require
    from ..inversion import build_inverter

    options = dict(config.component_options.get("inverter", {}))
    steps = options.pop("steps", None)
    if steps is not None and config.inversion_steps is not None:
        raise InputError("give the inverter's steps once: --inversion-steps or "
                         "-o inverter.steps, not both")
    inverter = build_inverter(config.inverter, generator_name=config.generator,
                              encoder=config.encoder, seed=config.seed, device=device,
                              steps=config.inversion_steps if steps is None else steps,
                              **options)
    return require(inverter, "inverters", config.inverter or "default")


def check_output_size(frames: int, *, num_ws: int, latent_dim: int, resolution: int | None,
                      folder, limit: int | None = None, what: str = "the output") -> None:
    """Refuse an output of ``frames`` frames that is over ``limit``, or whose codes would
    not fit in free memory or whose files would not fit on ``folder``'s disk, with one
    line giving the numbers."""
    limit = MAX_OUTPUT_FRAMES if limit is None else int(limit)
    if frames > limit:
        raise InputError(f"{what} would have {frames:,} frames, over the limit of {limit:,}; "
                         "ask for fewer, or raise the limit with --max-output-frames")
    code_bytes = frames * num_ws * latent_dim * 4
    free_memory = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    if code_bytes > free_memory // 2:
        raise InputError(f"{what} would hold {frames:,} frames of codes ({_size(code_bytes)}), "
                         f"more than half the free memory ({_size(free_memory)})")
    disk_bytes = code_bytes + frames * (resolution or 0) ** 2 * VIDEO_BYTES_PER_PIXEL
    target = Path(folder)
    while not target.exists():
        target = target.parent
    free_disk = shutil.disk_usage(target).free
    if disk_bytes > free_disk:
        raise OutputError(f"{what} would need about {_size(disk_bytes)} on disk "
                          f"({frames:,} frames), but {target} has {_size(free_disk)} free")


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} TB"


def check_run(config, generator, info, device: str) -> Checked:
    """Check every option against the loaded generator and the probed input; returns
    what the stages reuse (each stage's own settings are checked by its ``prepare``).
    Raises one-line errors; creates nothing."""
    import numpy as np

    from ..edits import extrapolation_count

    frames = info.frames if not config.max_frames else min(info.frames, config.max_frames)
    fps = float(info.fps) if info.fps else 25.0
    extrapolated, _ = extrapolation_count(np.arange(frames) / fps, config.interpolate,
                                          config.extrapolate)
    for option, count in (("--interpolate", config.interpolate * (frames - 1) + 1),
                          ("--extrapolate", extrapolated)):
        if count:
            check_output_size(count, num_ws=generator.num_ws, latent_dim=generator.latent_dim,
                              resolution=generator.resolution, folder=config.out,
                              limit=config.max_output_frames, what=f"{option}'s video")
    edits = _edits(config, generator)
    return Checked(inverter=_inverter(config, device), edits=edits)
