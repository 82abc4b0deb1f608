"""What every ``dynode bench`` task shares: the configuration, the ground-truth clips of
the shapes world (inverted once per clip), rendering and scoring."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from dynode_core import InputError

FORMAT = "dynode.bench/1"
#: Optimisation steps the reference (``inverted-heldout``) takes at least
#: (``--reference-steps``). It must beat every latent method: with as few refine steps as the
#: observed frames (measured with 10), smooth fits through the observed codes average out
#: their unconverged error and beat the held-out frames' own inversions by up to 0.4 dB.
REFERENCE_STEPS = 200
#: Options applied to a method unless the user gives its own (a bench must end).
DEFAULT_OPTIONS = {"dynode-paper": {"time_budget": 15.0}}


@dataclass
class BenchConfig:
    """Everything a bench run depends on (both subcommands)."""

    generator: str = "shapes64"
    checkpoint: str | None = None
    motions: tuple = ("circle", "spin")
    frames: int = 33
    fps: float = 25.0
    every: tuple = (2, 4, 8)
    irregular: bool = False
    methods: tuple | None = None  # None: every dynamics + PIXEL + REFERENCE
    inverter: str | None = None  # None: e4e with the generator's encoder, else optim
    inversion_steps: int | None = None
    reference_steps: int = REFERENCE_STEPS  # at least; see Bench.reference_inverter
    options: dict = field(default_factory=dict)  # method -> dynamics options
    seed: int = 0
    device: str = "cpu"
    extrapolate: bool = True
    edits: tuple = ("hue", "size")
    samples: int = 256  # labelled generator samples behind a fitted edit direction
    cache: str | None = None  # folder for fitted edit directions

    def method_options(self, name: str) -> dict:
        return {**DEFAULT_OPTIONS.get(name, {}), **self.options.get(name, {})}


@dataclass
class Truth:
    """A ground-truth clip: times, uint8 frames, factors and (once inverted) codes."""

    motion: str
    times: torch.Tensor
    frames: np.ndarray
    factors: object
    codes: torch.Tensor | None = None
    invert_seconds: float = 0.0
    reference: dict = field(default_factory=dict)  # frame -> (reference code, seconds)


def check_motions(motions) -> None:
    """Refuse unknown motion names (listing the valid ones) before any model loads."""
    for motion in motions:
        world().get_motion(motion)


def world():
    """The shapes world's motions module (the bench runs on its ground truth)."""
    from .. import motions

    return motions


class Bench:
    """The generator, inverter and scoring shared by every bench task."""

    def __init__(self, config: BenchConfig) -> None:
        from dynode_core.app import build_inverter
        from dynode_core import get_registry
        from dynode_core import resolve_device

        self.config = config
        self.registry = get_registry()
        self.device = resolve_device(config.device)
        self.generator = self.registry.create("generators", config.generator,
                                              checkpoint=config.checkpoint,
                                              device=self.device).eval()
        name = config.inverter
        if name is None:
            from dynode_core.app import default_encoder

            name = "e4e" if default_encoder(config.generator) else "optim"
        self.inverter_name = name
        self.inverter = build_inverter(name, generator_name=config.generator,
                                       steps=config.inversion_steps, seed=config.seed,
                                       device=self.device)
        self._clips: dict = {}
        self._reference: tuple | None = None

    def clip(self, motion: str, edit: str | None = None, invert: bool = True) -> Truth:
        """The ground-truth clip of ``motion`` (with ``edit``), inverted once and cached."""
        key = (motion, edit)
        if key not in self._clips:
            c = self.config
            clip = world().video(motion, c.frames, c.fps, edit=edit,
                                 resolution=self.generator.resolution)
            frames = (clip.images.clamp(0, 1) * 255).round().to(torch.uint8)
            self._clips[key] = Truth(motion, clip.times, frames.permute(0, 2, 3, 1).numpy(),
                                     clip.factors)
        truth = self._clips[key]
        if invert and truth.codes is None:
            truth.codes, truth.invert_seconds = self._invert(truth, slice(None), self.inverter)
        return truth

    def _invert(self, truth: Truth, index, inverter) -> tuple[torch.Tensor, float]:
        """Codes of ``truth``'s frames at ``index`` and the seconds they took (batches of 16;
        the bundled inverters treat the frames of a batch independently)."""
        from dynode_core import FrameBatch
        from dynode_core.app import invert_video

        start = time.perf_counter()
        traj = invert_video([FrameBatch(truth.frames[index], truth.times.numpy()[index])],
                            self.generator, inverter, batch_size=16, progress=False)
        return traj.latents, time.perf_counter() - start

    def reference_inverter(self) -> tuple:
        """(inverter, whether it is the observed frames' own, description) of the reference
        ``inverted-heldout``: the observed frames' inverter with at least
        ``config.reference_steps`` optimisation steps (and no fewer than it has); an inverter
        without steps (``e4e``) gives way to the default one with steps (``hybrid``: the same
        encoder + refinement; ``optim`` without an encoder). Same seed and options otherwise."""
        if self._reference is None:
            from dynode_core.app import build_inverter

            observed = self.inverter.config
            steps = max(_steps(observed), int(self.config.reference_steps))
            options = {"generator_name": self.config.generator, "steps": steps,
                       "seed": self.config.seed, "device": self.device}
            try:
                inverter = build_inverter(self.inverter_name, **options)
            except InputError:  # an inverter without refinement (e4e)
                inverter = build_inverter(None, **options)
            same = inverter.config == observed
            how = ("the observed frames' own inversion" if same else
                   f"held-out frames inverted again, each on its own, seed {self.config.seed}")
            name = inverter.config.get("name", type(inverter).__name__)
            label = f"{name}, {steps} optimisation steps; {how}"
            self._reference = (self.inverter if same else inverter, same, label)
        return self._reference

    def reference(self, truth: Truth, index) -> tuple[torch.Tensor, float]:
        """The reference codes of ``truth``'s frames at ``index`` (see
        :meth:`reference_inverter`; each frame inverted once, then cached) and their
        inversion seconds (each frame's share of its batch, or of the clip's inversion when
        the observed codes serve)."""
        inverter, same, _ = self.reference_inverter()
        index = [int(i) for i in np.asarray(index).reshape(-1)]
        if same:
            return truth.codes[index], truth.invert_seconds * len(index) / len(truth.times)
        missing = sorted(set(index) - set(truth.reference))
        if missing:
            codes, seconds = self._invert(truth, np.asarray(missing), inverter)
            truth.reference.update({i: (c, seconds / len(missing))
                                    for i, c in zip(missing, codes)})
        return (torch.stack([truth.reference[i][0] for i in index]),
                sum(truth.reference[i][1] for i in index))

    def render(self, codes: torch.Tensor) -> np.ndarray:
        from dynode_core.app import render_all

        return render_all(self.generator, codes.float(), batch_size=16)

    def score(self, frames: np.ndarray, truth: Truth, index, codes=None) -> dict:
        """PSNR / SSIM against the truth's frames at ``index``, latent MSE against its
        codes there (when ``codes`` are given), and the regressor's factor errors."""
        from dynode_core.app import psnr_ssim

        index = np.asarray(index)
        out = psnr_ssim(frames, truth.frames[index])
        out["latent_mse"] = (float((codes.float() - truth.codes[index]).pow(2).mean())
                             if codes is not None else float("nan"))
        errors = self.registry.create("metrics", "world-factors", frames=frames,
                                      factors=truth.factors[torch.as_tensor(index)],
                                      device=self.device)["errors"]
        out.update(position_px=errors["position_rms_px"], rotation_deg=errors["rotation_rms_deg"],
                   hue_deg=errors["hue_rms_deg"], size_px=errors["size_rms_px"])
        return out

    def fit(self, name: str, traj):
        """A fitted dynamics model and its fit seconds."""
        model = self.registry.create("dynamics", name, seed=self.config.seed,
                                     device=self.device, **self.config.method_options(name))
        start = time.perf_counter()
        model.fit(traj)
        return model, time.perf_counter() - start


def _steps(config) -> int:
    """The most optimisation steps an inverter's config names (0: none, e.g. ``e4e``)."""
    if not isinstance(config, dict):
        return 0
    own = config.get("steps")
    return max([int(own) if isinstance(own, int) else 0, *map(_steps, config.values())])
