"""The last two stages of ``dynode run``: render every output video, then write the rest.

``render`` takes a plan, ``{name: Output}`` (the reconstruction, the interpolated
and extrapolated paths and every edit), so a hook that replaces the ``edit`` or
``interpolate`` result changes what is rendered. Each output streams to
``NAME.mp4`` batch by batch; with ``--gif`` a bounded preview ``NAME.gif`` is
written too (at most :data:`GIF_MAX_FRAMES` frames, evenly spaced, and
:data:`GIF_MAX_SIDE` pixels a side), so no output is ever held whole in memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from ..render import contact_sheet, pick_columns, render_batches

SHEET_COLUMNS = 8
GIF_MAX_FRAMES = 256
GIF_MAX_SIDE = 256


@dataclass
class Output:
    """One video to render: its codes, frame rate, and its contact-sheet label (or None)."""

    codes: torch.Tensor
    fps: float
    label: str | None = None


@dataclass
class Rendered:
    """Frames picked for the contact sheet, and the image metrics."""

    sheet_rows: list = field(default_factory=list)
    metrics: dict = field(default_factory=dict)


def render_plan(ctx) -> dict[str, Output]:
    """What the render stage renders, from the invert, interpolate and edit results."""
    traj, paths, edited = (ctx.results[s] for s in ("invert", "interpolate", "edit"))
    fps, factor = traj.meta["fps"], ctx.config.interpolate
    plan = {"reconstruction": Output(traj.latents, fps, "reconstruction"),
            "interpolated": Output(paths["interpolated"].latents, fps * factor,
                                   f"interpolated x{factor}")}
    if "extrapolated" in paths:
        plan["extrapolated"] = Output(paths["extrapolated"].latents, fps * factor)
    for i, (name, codes) in enumerate(edited.items()):
        plan[f"edited_{name}"] = Output(codes, fps, f"edited {name}" if i == 0 else None)
    return plan


class GifPreview:
    """Evenly spaced, size-capped frames of a video, written as a GIF at the end."""

    def __init__(self, count: int, fps: float) -> None:
        self.stride = max(1, math.ceil(count / GIF_MAX_FRAMES))
        self.fps = fps / self.stride
        self.frames: list[np.ndarray] = []
        self.seen = 0

    def add(self, batch: np.ndarray) -> None:
        from PIL import Image

        for frame in batch:
            if self.seen % self.stride == 0:
                side = max(frame.shape[:2])
                if side > GIF_MAX_SIDE:
                    scale = GIF_MAX_SIDE / side
                    size = (round(frame.shape[1] * scale), round(frame.shape[0] * scale))
                    frame = np.asarray(Image.fromarray(frame).resize(size, Image.BILINEAR))
                self.frames.append(frame)
            self.seen += 1

    def write(self, path) -> None:
        from ..video import write_video

        write_video(path, self.frames, fps=self.fps)


def render_output(ctx, name: str, output: Output, on_batch=None) -> np.ndarray:
    """Render ``output`` to ``NAME.mp4`` (and its GIF preview); returns the sheet's frames.
    ``on_batch(frames)`` sees every rendered batch."""
    from .paste import paste_plan, write_output

    plan = paste_plan(ctx, name, output) if ctx["paste_back"] else None
    transforms = None if plan is None else plan["transforms"]
    count = len(output.codes)
    picks = set(pick_columns(count, SHEET_COLUMNS).tolist())
    kept, offset = [], 0
    preview = GifPreview(count, output.fps) if ctx.config.gif else None
    task = ctx.progress.task(f"render {name}", count)

    def frames():
        nonlocal offset
        for batch in render_batches(ctx.generator, output.codes, transforms=transforms,
                                    batch_size=ctx.config.batch_size, progress=task):
            kept.extend(batch[i - offset] for i in sorted(picks)
                        if offset <= i < offset + len(batch))
            offset += len(batch)
            if on_batch is not None:
                on_batch(batch)
            if preview is not None:
                preview.add(batch)
            yield batch

    write_output(ctx, name, output, frames(), plan)
    if preview is not None:
        preview.write(ctx.folder / f"{name}.gif")
    return np.stack(kept)


def _record(ctx, name: str):
    return ctx.folder / "cache" / "render" / f"{name}.npz"


def keep_rendered(ctx, name: str, sheet: np.ndarray, meter=None) -> None:
    """Record a finished output (its sheet frames, and the reconstruction's per-frame
    scores), so that ``--resume`` reuses it instead of rendering it again."""
    from ..io import atomic_path

    scores = {} if meter is None else {k: torch.cat(v).numpy() for k, v in meter.values.items()}
    with atomic_path(_record(ctx, name)) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, sheet=sheet, **scores)


def reuse_rendered(ctx, name: str, meter) -> np.ndarray | None:
    """The sheet frames of an output a finished render wrote (its scores go to ``meter``),
    or None when it must be rendered."""
    record = _record(ctx, name)
    wanted = [ctx.folder / f"{name}.mp4"] + ([ctx.folder / f"{name}.gif"] if ctx.config.gif else [])
    if not record.is_file() or not all(p.is_file() for p in wanted):
        return None
    with np.load(record, allow_pickle=False) as data:
        for key in ("psnr", "ssim"):
            if key in data.files:
                meter.values[key].append(torch.from_numpy(data[key]))
        return data["sheet"]


def render(ctx, plan: dict[str, Output]) -> Rendered:
    """Every output of the plan to video; the reconstruction is scored against the input
    as the generator sees it (PSNR / SSIM)."""
    from ..metrics import QualityMeter

    targets = ctx.targets
    rendered = Rendered(sheet_rows=[("input", targets.pick(pick_columns(targets.count,
                                                                        SHEET_COLUMNS)))])
    meter, done = QualityMeter(), 0
    read_targets = targets.read

    def score(frames: np.ndarray) -> None:
        nonlocal done
        meter.update(frames, read_targets(done, done + len(frames)))
        done += len(frames)

    for name, output in plan.items():
        if name == "reconstruction" and ctx["paste_back"] and ctx.generator.takes_transform:
            from .paste import upright_targets

            read_targets = upright_targets(ctx, output)  # it renders upright crops
        sheet = reuse_rendered(ctx, name, meter) if ctx.resume else None
        if sheet is None:
            sheet = render_output(ctx, name, output,
                                  on_batch=score if name == "reconstruction" else None)
            keep_rendered(ctx, name, sheet, meter if name == "reconstruction" else None)
        if output.label is not None:
            rendered.sheet_rows.append((output.label, sheet))
    quality = meter.compute()
    if quality:
        per_frame = meter.per_frame()
        rendered.metrics.update({"reconstruction_psnr": quality["psnr"],
                                 "reconstruction_ssim": quality["ssim"],
                                 "reconstruction_psnr_per_frame": per_frame["psnr"],
                                 "reconstruction_ssim_per_frame": per_frame["ssim"]})
    if "audio" in ctx.store:  # the input's sound: its codec, and why it was dropped if it was
        rendered.metrics["audio"] = dict(ctx.store["audio"])
    targets.close()
    return rendered


def write(ctx, rendered: Rendered) -> None:
    """The contact sheet, the codes of every path and edit, and the trajectory plot."""
    from .report import trajectory_plot

    folder, traj = ctx.folder, ctx.results["invert"]
    paths, edited, dynamics = (ctx.results[s] for s in ("interpolate", "edit", "fit"))
    contact_sheet(rendered.sheet_rows, folder / "contact_sheet.png", columns=SHEET_COLUMNS,
                  scale=max(1, 96 // max(1, rendered.sheet_rows[0][1].shape[1])))
    for name, path in paths.items():
        path.save(folder / f"{name}.safetensors")
    for name, codes in edited.items():
        traj.with_latents(codes, edit=name).save(folder / f"edited_{name}.safetensors")
    dense = paths["interpolated"]
    samples = dynamics.sample(dense.times, 8) if dynamics.stochastic else None
    trajectory_plot(folder / "trajectory.png", observed_times=traj.times, observed=traj.latents,
                    path_times=dense.times, fitted=dense.latents,
                    linear=traj.linear_at(dense.times),
                    edited=next(iter(edited.values()), None), samples=samples,
                    title=f"{ctx.config.dynamics}: observed codes and fitted path")
