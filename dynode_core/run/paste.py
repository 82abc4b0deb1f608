"""Paste-back: every rendered crop warped back into its original frame.

Each output frame sits at a position in the input (frame ``j`` of an output at N times
the input's rate is input frame ``j / N``). Its crop is warped back by the inverse of
the crop transform at that position (transforms in between frames interpolated from
the smoothed quads), its colours matched to the input's along the mask's edge, and
blended under a narrowly feathered face-shaped mask; outside the mask the pixels are
the input's. A position between two input frames gets the nearer input frame as its
background, warped along their dense optical flow (OpenCV DIS): never a cross-fade of
two frames, which shows a double image where the flow is wrong. The input is decoded
again, forward, for each output, so memory stays at a batch at any frame size.
"""

from __future__ import annotations

import numpy as np


class Originals:
    """The input's frames, decoded forward as they are asked for (indices must not go
    back by more than one); only the frames still needed are kept."""

    def __init__(self, source, total: int, batch_size: int) -> None:
        from ..alignment import frame_batches

        self.total = total
        self._batches = frame_batches(source.name, batch_size, total, source.options)
        self._frames: dict[int, np.ndarray] = {}
        self._next = 0

    def get(self, index: int) -> np.ndarray:
        index = min(max(index, 0), self.total - 1)
        while index >= self._next:
            batch = next(self._batches)
            for frame in batch:
                self._frames[self._next] = frame
                self._next += 1
        for old in [k for k in self._frames if k < index - 1]:
            del self._frames[old]
        return self._frames[index]

    def at(self, position: float) -> np.ndarray:
        """The frame at a fractional ``position``: an input frame, or the nearer of the
        two around it warped along their flow."""
        from ..alignment.warp import flow_between

        low = int(np.floor(position + 1e-9))
        frac = float(position - low)
        if frac < 1e-6 or low + 1 >= self.total:
            return self.get(low)
        first = self.get(low)
        return flow_between(first, self.get(low + 1), frac)


def positions(name: str, count: int, output_fps: float, input_fps: float,
              total: int) -> np.ndarray:
    """Where each output frame sits in the input, in input frames (fractional)."""
    step = input_fps / output_fps
    if name == "extrapolated":  # past the end: the last frame's crop and background
        return np.full(count, float(total - 1))
    return np.minimum(np.arange(count) * step, total - 1)


def upright(matrices: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """For a generator that renders through an input transform (``takes_transform``,
    StyleGAN3): per frame, the upright crop (the aligned crop's scale and centre, its
    rotation taken out: (T, 2, 3) frame -> crop, pixel centres) and the crop -> crop map
    ``K`` (T, 3, 3) from the aligned crop to it. The generator then renders the upright
    crop itself (the face turned inside a crop that stays level, as stylegan3-editing's
    unaligned videos do) instead of its aligned crop being turned by a resampling warp."""
    centre = np.array([(size - 1) / 2.0] * 2)
    uprights, maps = [], []
    for matrix in np.asarray(matrices, np.float64):
        aligned = np.vstack([matrix, [0.0, 0.0, 1.0]])
        scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
        frame_centre = np.linalg.solve(aligned, [*centre, 1.0])[:2]
        level = np.array([[scale, 0.0, 0.0], [0.0, scale, 0.0], [0.0, 0.0, 1.0]])
        level[:2, 2] = centre - scale * frame_centre
        uprights.append(level[:2])
        maps.append(level @ np.linalg.inv(aligned))
    return np.stack(uprights), np.stack(maps)


def input_transforms(maps: np.ndarray, size: int):
    """The generator's input transforms (T, 3, 3) that render, instead of the aligned
    crop, its image under each crop -> crop map: NVIDIA's convention, the inverse of the
    image transform in image units (the image spans -0.5 ... 0.5, x along columns)."""
    import torch

    to_unit = np.array([[1.0 / size, 0.0, 0.5 / size - 0.5],
                        [0.0, 1.0 / size, 0.5 / size - 0.5], [0.0, 0.0, 1.0]])
    image = to_unit @ maps @ np.linalg.inv(to_unit)
    return torch.from_numpy(np.linalg.inv(image)).float()


def paste_plan(ctx, name: str, output) -> dict:
    """Where each output frame sits in the input, the frame -> crop matrices it is pasted
    with and, for a generator that takes an input transform, the transforms that render
    those (upright) crops and the crop -> crop maps of their masks."""
    alignment, source = ctx.results["align"], ctx.results["read"]
    where = positions(name, len(output.codes), output.fps, source.fps, len(alignment))
    matrices = alignment.matrices(alignment.quads_at(where))
    plan = {"where": where, "matrices": matrices, "maps": None, "transforms": None}
    if ctx.generator.takes_transform:
        plan["matrices"], plan["maps"] = upright(matrices, alignment.size)
        plan["transforms"] = input_transforms(plan["maps"], alignment.size)
    return plan


def upright_targets(ctx, output):
    """``read(start, stop)``: the input's frames cut to the reconstruction's upright crops
    (what the generator renders with its input transforms), for the reconstruction score."""
    from ..alignment.warp import warp_crop

    alignment, source = ctx.results["align"], ctx.results["read"]
    matrices = paste_plan(ctx, "reconstruction", output)["matrices"]
    originals = Originals(source, len(alignment), ctx.config.batch_size)

    def read(start: int, stop: int) -> np.ndarray:
        return np.stack([warp_crop(originals.get(i), matrices[i], alignment.size)
                         for i in range(start, min(stop, len(matrices)))])

    return read


def write_pasted(ctx, name: str, output, frames, plan: dict | None = None) -> None:
    """``aligned/NAME.mp4`` (the crops) and ``NAME.mp4`` (pasted into the input's frames)."""
    from ..alignment.warp import paste, paste_mask, warp_mask
    from ..video import open_video

    alignment, source = ctx.results["align"], ctx.results["read"]
    plan = plan or paste_plan(ctx, name, output)
    where, matrices, maps = plan["where"], plan["matrices"], plan["maps"]
    mask = ctx.store.get("paste_mask")
    if mask is None:
        mask = ctx.store["paste_mask"] = paste_mask(alignment)
    originals = Originals(source, len(alignment), ctx.config.batch_size)
    (ctx.folder / "aligned").mkdir(exist_ok=True)
    done = 0
    with open_video(ctx.folder / "aligned" / f"{name}.mp4", fps=output.fps) as crops, \
            open_video(ctx.folder / f"{name}.mp4", fps=output.fps) as full:
        for batch in frames:
            crops.add(batch)
            full.add(np.stack([
                paste(originals.at(where[done + i]), crop, matrices[done + i],
                      mask if maps is None else warp_mask(mask, maps[done + i]))
                for i, crop in enumerate(batch)]))
            done += len(batch)


def write_output(ctx, name: str, output, frames, plan: dict | None = None) -> None:
    """Write one rendered output: pasted back when the run pastes (by ``plan``, see
    :func:`paste_plan`), else the crops as they are; then the input's audio, when it has
    some and the output is full length."""
    from ..video import write_video
    from .audio import add_audio

    if ctx["paste_back"]:
        write_pasted(ctx, name, output, frames, plan)
    else:
        write_video(ctx.folder / f"{name}.mp4", frames, fps=output.fps)
    if ctx.config.audio and name != "extrapolated":
        add_audio(ctx, ctx.folder / f"{name}.mp4")
