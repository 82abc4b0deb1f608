"""The stages of ``dynode run``, one function each (called through the stage runner)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .plugins import get_registry
from .render import contact_sheet, pick_columns, render_batches
from .trajectory import LatentTrajectory

SHEET_COLUMNS = 8


@dataclass
class Source:
    """The input as read: where it is, its timestamps, and a few frames for the sheet."""

    path: str
    times: np.ndarray
    fps: float
    sheet_frames: np.ndarray


def _options(config, source: str) -> dict:
    return {"fps": config.fps} if config.fps and Path(source).is_dir() else {}


def source_batches(config, source: str):
    """The input's frame batches, stopping after ``config.max_frames`` frames."""
    from .video import read_video
    from .video_types import FrameBatch

    count = 0
    for batch in read_video(source, config.batch_size, **_options(config, source)):
        keep = len(batch.frames) if not config.max_frames else min(
            len(batch.frames), config.max_frames - count)
        if keep <= 0:
            return
        count += keep
        yield FrameBatch(frames=batch.frames[:keep], times=batch.times[:keep])


def source_name(config) -> str:
    return str(config.input or f"world:{config.demo_motion}:{config.demo_frames}")


def probe(config):
    """The input's :class:`VideoInfo`; missing, unreadable, empty or 1-frame input fails."""
    from .run import check_input_frames
    from .video import probe_video

    source = source_name(config)
    info = probe_video(source, **_options(config, source))
    check_input_frames(info.frames, source)
    return info


def read(config, info, folder: Path, bar) -> Source:
    """Stream the input once: copy it to ``input.mp4`` and collect its timestamps."""
    from .run import check_input_frames
    from .video import write_video

    source = source_name(config)
    total = info.frames if not config.max_frames else min(info.frames, config.max_frames)
    task = bar.task("read", total)
    wanted = set(pick_columns(total, SHEET_COLUMNS).tolist())
    times, sheet = [], []

    def frames():
        done = 0
        for batch in source_batches(config, source):
            times.append(batch.times)
            sheet.extend(f for i, f in enumerate(batch.frames, done) if i in wanted)
            done += len(batch.frames)
            task(len(batch.frames))
            yield batch.frames

    write_video(folder / "input.mp4", frames(), fps=info.fps)
    all_times = np.concatenate(times)
    check_input_frames(len(all_times), source)
    return Source(source, all_times, float(info.fps), np.stack(sheet))


def load_generator(config, device: str):
    return get_registry().create("generators", config.generator, checkpoint=config.checkpoint,
                                 device=device)


def invert(config, source: Source, generator, folder: Path, device, bar, resume) -> LatentTrajectory:
    from .inversion import invert_video

    return invert_video(source_batches(config, source.path), generator, config.inverter,
                        encoder=config.encoder, steps=config.inversion_steps,
                        batch_size=config.batch_size, crop=config.crop,
                        cache_dir=folder / "cache", resume=resume, device=device,
                        seed=config.seed, generator_name=config.generator,
                        progress=bar.task("invert", len(source.times)),
                        times=source.times, source=source.path, fps=source.fps)


def fit(config, traj: LatentTrajectory, folder: Path, device, bar):
    from .dynamics_io import save_dynamics

    model = get_registry().create("dynamics", config.dynamics, seed=config.seed, device=device)
    model.fit(traj, progress=bar.task(f"fit {config.dynamics}"))
    save_dynamics(model, config.dynamics, folder / "dynamics")
    return model


def interpolate(config, traj: LatentTrajectory, dynamics) -> dict[str, LatentTrajectory]:
    from .edits import upsample_times

    times = upsample_times(traj.times, config.interpolate)
    codes = torch.as_tensor(dynamics.predict(times)).detach().cpu().float()
    fps = traj.meta.get("fps", 25.0) * config.interpolate
    paths = {"interpolated": traj.with_latents(codes, times, fps=fps)}
    if config.extrapolate > 0:
        step = float(np.median(np.diff(traj.times.numpy()))) / config.interpolate
        count = max(1, int(round(config.extrapolate / step)))
        ex_times = traj.times[-1] + step * torch.arange(1, count + 1, dtype=torch.float64)
        ex_codes = torch.as_tensor(dynamics.predict(ex_times)).detach().cpu().float()
        paths["extrapolated"] = traj.with_latents(ex_codes, ex_times, fps=fps)
    return paths


def edit(config, traj: LatentTrajectory, dynamics, generator) -> dict[str, torch.Tensor]:
    """Each ``--edit`` made on frame 0 and propagated to every observed time."""
    from .edits import parse_edit, propagate_edit, resolve_edit

    edited = {}
    for spec in config.edits:
        parsed = parse_edit(spec)
        resolved = resolve_edit(parsed, generator)
        name = f"{parsed.editor}-{Path(parsed.direction).stem}-{parsed.strength:g}"
        edited[name] = propagate_edit(dynamics, traj, resolved, generator,
                                      strategy=config.propagate)
    return edited


@dataclass
class Rendered:
    """Frames picked for the contact sheet, and the image metrics."""

    sheet_rows: list = field(default_factory=list)
    metrics: dict = field(default_factory=dict)


def _write_codes(name, codes, fps, folder, generator, config, bar, rendered, label,
                 on_batch=None):
    """Render ``codes`` to ``name``.mp4 and .gif, keeping the sheet's frames;
    ``on_batch(frames)`` sees every rendered batch."""
    from .video import write_video

    picks = set(pick_columns(len(codes), SHEET_COLUMNS).tolist())
    kept, gif_frames, offset = [], [], 0
    task = bar.task(f"render {name}", len(codes))

    def frames():
        nonlocal offset
        for batch in render_batches(generator, codes, batch_size=config.batch_size,
                                    progress=task):
            kept.extend(batch[i - offset] for i in sorted(picks)
                        if offset <= i < offset + len(batch))
            gif_frames.append(batch)
            offset += len(batch)
            if on_batch is not None:
                on_batch(batch)
            yield batch

    write_video(folder / f"{name}.mp4", frames(), fps=fps)
    write_video(folder / f"{name}.gif", gif_frames, fps=fps)
    rendered.sheet_rows.append((label, np.stack(kept)))


def _generator_view(frames: np.ndarray, config, resolution: int) -> np.ndarray:
    """Frames as the generator sees them (cropped and resized), uint8."""
    from .inversion import to_generator_input
    from .render import to_uint8

    return to_uint8(to_generator_input(frames, resolution, config.crop))


class _TargetFrames:
    """The input's frames, as the generator sees them, handed out ``n`` at a time."""

    def __init__(self, config, source: Source, resolution: int) -> None:
        self.batches = source_batches(config, source.path)
        self.config, self.resolution = config, resolution
        self.buffer = np.zeros((0, resolution, resolution, 3), np.uint8)

    def take(self, n: int) -> np.ndarray:
        while len(self.buffer) < n:
            batch = next(self.batches)
            view = _generator_view(batch.frames, self.config, self.resolution)
            self.buffer = np.concatenate([self.buffer, view])
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out


def render(config, folder, generator, traj, paths, edited, source: Source, bar) -> Rendered:
    from .metrics import QualityMeter

    res = generator.resolution
    rendered = Rendered(sheet_rows=[("input", _generator_view(source.sheet_frames, config, res))])
    fps = source.fps
    meter, targets = QualityMeter(), _TargetFrames(config, source, res)
    _write_codes("reconstruction", traj.latents, fps, folder, generator, config, bar, rendered,
                 "reconstruction",
                 on_batch=lambda frames: meter.update(frames, targets.take(len(frames))))
    quality = meter.compute()
    rendered.metrics.update({"reconstruction_psnr": quality["psnr"],
                             "reconstruction_ssim": quality["ssim"]})
    interp_fps = fps * config.interpolate
    _write_codes("interpolated", paths["interpolated"].latents, interp_fps, folder, generator,
                 config, bar, rendered, f"interpolated x{config.interpolate}")
    if "extrapolated" in paths:
        _write_codes("extrapolated", paths["extrapolated"].latents, interp_fps, folder,
                     generator, config, bar, Rendered(), "extrapolated")
    for i, (name, codes) in enumerate(edited.items()):
        target = rendered if i == 0 else Rendered()
        _write_codes(f"edited_{name}", codes, fps, folder, generator, config, bar, target,
                     f"edited {name}")
    return rendered


def write(config, folder, traj, paths, edited, rendered: Rendered, dynamics) -> None:
    from .report import trajectory_plot

    contact_sheet(rendered.sheet_rows, folder / "contact_sheet.png", columns=SHEET_COLUMNS,
                  scale=max(1, 96 // max(1, rendered.sheet_rows[0][1].shape[1])))
    paths["interpolated"].save(folder / "interpolated.safetensors")
    if "extrapolated" in paths:
        paths["extrapolated"].save(folder / "extrapolated.safetensors")
    for name, codes in edited.items():
        traj.with_latents(codes, edit=name).save(folder / f"edited_{name}.safetensors")
    dense = paths["interpolated"]
    linear = get_registry().create("dynamics", "linear").fit(traj).predict(dense.times)
    samples = dynamics.sample(dense.times, 8) if hasattr(dynamics, "sample") else None
    trajectory_plot(folder / "trajectory.png", observed_times=traj.times, observed=traj.latents,
                    path_times=dense.times, fitted=dense.latents, linear=linear,
                    edited=next(iter(edited.values()), None), samples=samples,
                    title=f"{config.dynamics}: observed codes and fitted path")
