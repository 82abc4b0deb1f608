"""One finished run, loaded once for previews: its generator (tuned when the run was),
its codes (``latents.safetensors``), its fitted dynamics (``dynamics/``) and, when the
run pasted back, its alignment. Nothing is inverted or fitted again: a preview is the
edit's propagation over the run's own codes and one generator call for the frame.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError

#: Editors whose directions the page lists (others need options a page cannot guess).
LISTED_EDITORS = ("supervised", "sefa", "ganspace", "file")
#: Directions shown per editor at most.
MAX_DIRECTIONS = 64


@dataclass(frozen=True)
class PreviewRequest:
    """A checked preview: the edits (specs), how they propagate, the interpolation
    factor, the position on its time grid and whether to paste back."""

    edits: tuple[str, ...]
    propagate: str
    interpolate: int
    index: int
    paste_back: bool


class RunSession:
    """A run folder ready for previews (thread-safe: one preview at a time)."""

    def __init__(self, folder, device: str = "cpu", directions_folder=None) -> None:
        from .. import RunConfig, LatentTrajectory
        from ..dynamics_io import load_dynamics

        self.folder = Path(folder)
        for name in ("config.toml", "metrics.json", "latents.safetensors", "dynamics"):
            if not (self.folder / name).exists():
                raise InputError(f"{self.folder} is not a finished dynode run (no {name}); "
                                 "give the folder a `dynode run` wrote")
        self.config = RunConfig.from_toml(self.folder / "config.toml")
        self.device = device
        self.directions_folder = None if directions_folder is None else Path(directions_folder)
        self.generator = self._generator()
        self.trajectory = LatentTrajectory.load(self.folder / "latents.safetensors")
        self.dynamics = load_dynamics(self.folder / "dynamics", device=device)
        self.alignment = self._alignment()
        self._lock = threading.Lock()
        self._edits: dict[str, object] = {}
        self._codes: dict[tuple, object] = {}
        self.seconds_per_frame: float | None = None
        self.seconds_edit: float | None = None
        self._listed: list[dict] | None = None

    # ---------------------------------------------------------------- loading
    def _generator(self):
        from ..plugins import get_registry
        from ..tuning import apply_generator_delta

        config = self.config
        generator = get_registry().create("generators", config.generator,
                                          checkpoint=config.checkpoint, device=self.device,
                                          **config.component_options.get("generator", {}))
        generator = generator.eval()
        self.tuned = (self.folder / "tuned.safetensors").is_file()
        if self.tuned:
            apply_generator_delta(generator, self.folder / "tuned.safetensors")
        return generator

    def _alignment(self):
        """The run's alignment when it pasted its outputs back (else None)."""
        from ..alignment import Alignment

        if not (self.folder / "alignment" / "alignment.json").is_file():
            return None
        alignment = Alignment.load(self.folder / "alignment")
        return alignment if alignment.crop_mode is None else None

    @property
    def pasted(self) -> bool:
        """Whether the run's videos are pasted back into the input's frames."""
        setting = self.config.stage_options.get("paste_back")
        return self.alignment is not None and (setting is None or bool(setting))

    @property
    def fps(self) -> float:
        return float(self.trajectory.meta.get("fps") or 25.0)

    # ---------------------------------------------------------------- directions
    def reload_config(self):
        """The run's settings as its ``config.toml`` says now (a render adds edits)."""
        from .. import RunConfig

        self.config = RunConfig.from_toml(self.folder / "config.toml")
        return self.config

    def directions(self) -> list[dict]:
        """Every direction the listed editors offer for this generator (``editor``,
        ``direction``, a description), found once."""
        if self._listed is None:
            self._listed = self._find_directions() + self._direction_files()
        return self._listed

    def _find_directions(self) -> list[dict]:
        from ..edits import create_editor, editor_names

        found = []
        for name in LISTED_EDITORS:
            if name not in editor_names():
                continue
            try:
                offered = create_editor(name).directions(self.generator)
            except Exception:  # noqa: BLE001 - an editor this generator cannot serve
                continue
            for key, direction in list(offered.items())[:MAX_DIRECTIONS]:
                found.append({"editor": name, "direction": str(key),
                              "description": direction.description or ""})
        return found

    def _direction_files(self) -> list[dict]:
        """The direction files of ``--directions FOLDER``, named by their full path (the
        ``file`` editor's spec, as ``dynode run --edit file:PATH`` takes it)."""
        if self.directions_folder is None:
            return []
        return [{"editor": "file", "direction": str(path.resolve()),
                 "description": f"direction file {path.name}"}
                for path in sorted(self.directions_folder.iterdir())
                if path.suffix in (".pt", ".pth", ".npy") and path.is_file()]

    def resolved(self, spec: str):
        """The resolved edit of ``spec``, checked as ``dynode run --edit`` checks it."""
        from ..edits import parse_edit, resolve_edit

        parsed = parse_edit(spec)
        key = f"{parsed.editor}:{parsed.direction}"
        if key not in self._edits:
            self._edits[key] = resolve_edit(parsed, self.generator)
        return self._edits[key], parsed.strength

    # ---------------------------------------------------------------- preview
    def codes(self, edits: tuple[str, ...], propagate: str, interpolate: int):
        """The edited codes on the interpolated time grid (cached for the last few
        settings), the edits applied to frame 0 in turn and propagated together."""
        from ..edits import PROPAGATIONS, upsample_times

        key = (edits, propagate, interpolate)
        if key not in self._codes:
            traj = self.trajectory
            times = upsample_times(traj.times, interpolate)
            z0 = traj.latents[0]
            edited0 = z0
            for spec in edits:
                edit, strength = self.resolved(spec)
                edited0 = edit.editor.apply(edited0, edit.direction, strength)
            if len(self._codes) >= 8:
                self._codes.pop(next(iter(self._codes)))
            self._codes[key] = PROPAGATIONS[propagate](self.dynamics, traj, z0, edited0, times)
        return self._codes[key]

    def preview(self, request: PreviewRequest) -> np.ndarray:
        """The frame at ``request.index`` as (H, W, 3) uint8. Records the seconds the
        edit's codes took (once per edit and settings: a nonlinear direction may
        render every code) and the seconds the frame took (the generator, and paste-back)."""
        import torch

        from ..render import to_uint8

        with self._lock:
            started = time.perf_counter()
            codes = self.codes(request.edits, request.propagate, request.interpolate)
            drawn = time.perf_counter()
            place = None
            if request.paste_back and self.alignment is not None:
                place = self._placement(request.index / request.interpolate)
            extra = {} if place is None or place[2] is None else {
                "transform": place[2].to(self.device)}
            with torch.no_grad():
                image = self.generator.synthesize(codes[request.index:request.index + 1]
                                                  .to(self.device), noise_mode="const", **extra)
            frame = to_uint8(image)[0]
            if place is not None:
                frame = self._paste(frame, *place)
            self.seconds_edit = drawn - started
            self.seconds_per_frame = time.perf_counter() - drawn
        return frame

    def _placement(self, position: float):
        """(input frame, frame -> crop matrix, input transform or None, crop -> crop map or
        None) for the crop at ``position``: a generator that takes an input transform
        renders the upright crop itself, as the run's paste-back does."""
        from ..run import input_transforms, upright

        alignment = self.alignment
        position = min(position, len(alignment) - 1)
        matrix = alignment.matrices(alignment.quads_at(np.array([position])))[0]
        if not self.generator.takes_transform:
            return position, matrix, None, None
        matrices, maps = upright(matrix[None], alignment.size)
        return position, matrices[0], input_transforms(maps, alignment.size), maps[0]

    def _paste(self, crop: np.ndarray, position: float, matrix, transform, crop_map) -> np.ndarray:
        from ..alignment.warp import paste, paste_mask, warp_mask
        from .frames import frame_at

        mask = paste_mask(self.alignment)
        if crop_map is not None:
            mask = warp_mask(mask, crop_map)
        background = frame_at(self.folder / "input.mp4", int(round(position)))
        return paste(background, crop, matrix, mask)
