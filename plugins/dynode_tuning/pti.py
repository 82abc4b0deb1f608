"""Pivotal tuning (PTI; Roich et al. 2021), on all frames of a clip at once (as STIT does).

The inverted codes stay fixed as pivots; the synthesis weights are tuned, on shuffled
batches of the clip's frames, to reconstruct them: pixel MSE plus ``ssim_weight`` x
(1 - SSIM) (torchmetrics; LPIPS would need backbone weights that cannot be fetched).
The locality regulariser keeps the rest of the latent space as it was: codes moved from
the pivots towards random mapped samples (a random fraction of the way, or PTI's fixed
``locality_radius`` when it is > 0) must render as the untuned generator renders them
(MSE, weighted by ``locality``). Given the run's edits (``edits``: their latent offsets),
the edit term (:mod:`dynode_tuning.edit_term`, weight ``edit_weight``, ``edit_samples``
edited pivots a step) keeps each edit's change as the untuned generator makes it, smoothed
over ``edit_smoothing`` frames, so edits stay as steady as the reconstruction.

Adam's learning rate warms up over ``warmup`` steps, then follows half a cosine from
``lr`` to :data:`FINAL_LR` of it at the end: at ``steps``, or at ``time_budget`` when
that comes first (on carphone, a 2e-2 peak annealed this way reaches 30.2 dB in 180 s
where the earlier constant 3e-3 reached 28.5 dB in 3,000 steps and 257 s). Stops after
``steps``, when the running PSNR reaches ``target_psnr`` or after ``time_budget``
seconds (counted across resumes); checkpoints every ``checkpoint_every`` steps
(weights, Adam state, random state, seconds), so an interruption resumes to the same
weights.
"""

from __future__ import annotations

import copy
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from dynode_core import InputError, Tuner, atomic_path, check_number, no_progress

from .edit_term import EditTerm

STATE_FILE = "tune-state.pt"
#: Learning-rate schedules (``schedule``).
SCHEDULES = ("cosine", "constant")
#: Where the cosine schedule ends, as a share of the peak learning rate.
FINAL_LR = 0.05


class PivotalTuner(Tuner):
    """See the module docstring; every option is in :attr:`config`."""

    takes_edits = True

    def __init__(self, steps: int = 3000, lr: float = 2e-2, batch: int = 8,
                 schedule: str = "cosine", warmup: int = 100,
                 ssim_weight: float = 0.5, locality: float = 4.0, locality_samples: int = 4,
                 locality_radius: float = 0.0, edit_weight: float = 8.0,
                 edit_samples: int = 4, edit_smoothing: float = 12.0,
                 target_psnr: float | None = None,
                 time_budget: float | None = None, checkpoint_every: int = 100, seed: int = 0,
                 device=None) -> None:
        def number(name, value, kind=float, **bounds):
            return check_number(f"pti option {name}", value, kind=kind, **bounds)

        if schedule not in SCHEDULES:
            raise InputError(f"pti option schedule: unknown schedule {schedule!r}; valid "
                             f"schedules: {', '.join(SCHEDULES)}")

        self.config = {"name": "pti", "steps": number("steps", steps, int, minimum=1),
                       "lr": number("lr", lr, above=0, maximum=10),
                       "batch": number("batch", batch, int, minimum=1, maximum=4096),
                       "schedule": schedule, "warmup": number("warmup", warmup, int, minimum=0),
                       "ssim_weight": number("ssim_weight", ssim_weight, minimum=0),
                       "locality": number("locality", locality, minimum=0),
                       "locality_samples": number("locality_samples", locality_samples, int,
                                                  minimum=0, maximum=4096),
                       "locality_radius": number("locality_radius", locality_radius, minimum=0),
                       "edit_weight": number("edit_weight", edit_weight, minimum=0),
                       "edit_samples": number("edit_samples", edit_samples, int, minimum=1,
                                              maximum=4096),
                       "edit_smoothing": number("edit_smoothing", edit_smoothing, minimum=0,
                                                maximum=1000),
                       "target_psnr": None if target_psnr is None else
                       number("target_psnr", target_psnr, above=0, maximum=200),
                       "time_budget": None if time_budget is None else
                       number("time_budget", time_budget, above=0, maximum=1e7),
                       "seed": number("seed", seed, int, minimum=0, maximum=2**32 - 1)}
        self.checkpoint_every = number("checkpoint_every", checkpoint_every, int, minimum=1)

    # ------------------------------------------------------------------ losses
    def _reconstruction(self, images, targets) -> torch.Tensor:
        from torchmetrics.functional.image import structural_similarity_index_measure as ssim

        loss = F.mse_loss(images, targets)
        if self.config["ssim_weight"]:
            similarity = ssim((images + 1) / 2, (targets + 1) / 2, data_range=1.0)
            loss = loss + self.config["ssim_weight"] * (1 - similarity)
        return loss

    def _locality(self, generator, original, pivots, rng) -> torch.Tensor:
        c = self.config
        z = torch.randn(c["locality_samples"], generator.latent_dim, generator=rng)
        z = z.to(pivots.device)
        with torch.no_grad():
            w = original.mapping(z)[:, None, :].expand(-1, pivots.shape[1], -1)
            start = pivots[torch.arange(c["locality_samples"]) % len(pivots)]
            step = w - start
            if c["locality_radius"] > 0:  # PTI: a fixed distance from the pivot
                moved = start + c["locality_radius"] * step / step.norm(dim=(1, 2), keepdim=True)
            else:  # anywhere between the pivot and the random sample
                fraction = torch.rand(len(w), 1, 1, generator=rng).to(w)
                moved = start + fraction * step
            wanted = original.synthesize(moved, noise_mode="const")
        return F.mse_loss(generator.synthesize(moved, noise_mode="const"), wanted)

    # ------------------------------------------------------------------ state
    def _load(self, state_dir, params, optimiser, rng, edits) -> dict:
        path = Path(state_dir) / STATE_FILE if state_dir else None
        if path is None or not path.is_file():
            return {"step": 0, "curve": [], "order": torch.empty(0, dtype=torch.long),
                    "done": False, "seconds": 0.0}
        state = torch.load(path, map_location="cpu", weights_only=True)
        extendable = ("steps", "target_psnr", "time_budget")  # these continue the tuning
        if {k: v for k, v in state.get("config", {}).items() if k not in extendable} != \
                {k: v for k, v in self.config.items() if k not in extendable} or \
                not torch.equal(state.get("edits", torch.empty(0)), edits):
            raise InputError(f"{path} holds a tuning with other settings or edits; delete it to "
                             "start over")
        with torch.no_grad():
            for name, p in params.items():
                p.copy_(state["params"][name])
        optimiser.load_state_dict(state["optimiser"])
        rng.set_state(state["rng"])
        return {"step": int(state["step"]), "curve": list(state["curve"]),
                "order": state["order"], "done": bool(state["done"]),
                "seconds": float(state.get("seconds", 0.0))}

    def _save(self, state_dir, progress: dict, params, optimiser, rng, edits) -> None:
        if not state_dir:
            return
        state = {"config": self.config, "edits": edits, **progress, "rng": rng.get_state(),
                 "params": {n: p.detach().cpu() for n, p in params.items()},
                 "optimiser": optimiser.state_dict()}
        with atomic_path(Path(state_dir) / STATE_FILE) as tmp, open(tmp, "wb") as f:
            torch.save(state, f)  # through a file object: no temporary name inside the zip

    # ------------------------------------------------------------------ tuning
    def _loss(self, generator, original, edit_term, pivots, index, targets, rng):
        """The step's loss and the batch's renders (detached)."""
        c = self.config
        images = generator.synthesize(pivots[index], noise_mode="const")
        loss = self._reconstruction(images, targets)
        if c["locality"]:
            loss = loss + c["locality"] * self._locality(generator, original, pivots[index],
                                                         rng)
        if edit_term is not None:
            loss = loss + c["edit_weight"] * edit_term.loss(
                generator, pivots, index, images, c["edit_samples"], rng)
        return loss, images.detach()

    def _fraction(self, step: int, seconds: float) -> float:
        """How far the tuning is, 0 to 1: by steps, or by time when the budget will end it
        sooner (the pace so far says so; a tuning the budget does not stop follows the
        steps alone, so it stays reproducible)."""
        c = self.config
        done = step / c["steps"]
        if c["time_budget"] is not None and step > 0:
            done = max(done, seconds / c["time_budget"])
        return min(done, 1.0)

    def tune(self, generator, pivots, frames, *, progress=no_progress, state_dir=None,
             edits=None) -> dict:
        c, count = self.config, len(pivots)
        params = generator.synthesis_parameters()
        device = next(iter(params.values())).device
        pivots = pivots.to(device)
        edits = None if edits is None or not len(edits) or not c["edit_weight"] else edits
        original = copy.deepcopy(generator).eval().requires_grad_(False) \
            if c["locality"] or edits is not None else None
        edit_term = None if edits is None else \
            EditTerm(original, pivots, torch.as_tensor(edits), c["edit_smoothing"])
        for p in params.values():
            p.requires_grad_(True)
        optimiser = torch.optim.Adam(params.values(), lr=c["lr"])
        rng = torch.Generator().manual_seed(c["seed"])
        saved_edits = torch.empty(0) if edits is None else torch.as_tensor(edits).float().cpu()
        done = self._load(state_dir, params, optimiser, rng, saved_edits)
        step, curve, order, running = done["step"], done["curve"], done["order"], None
        progress(step, total=c["steps"])
        started, stopped = time.perf_counter() - done["seconds"], "steps"
        try:
            while step < c["steps"] and not done["done"]:
                if len(order) < c["batch"]:
                    order = torch.cat([order, torch.randperm(count, generator=rng)])
                index, order = order[:c["batch"]], order[c["batch"]:]
                targets = frames(index).to(device)
                for group in optimiser.param_groups:
                    group["lr"] = c["lr"] * learning_rate_factor(
                        step, self._fraction(step, time.perf_counter() - started),
                        c["schedule"], c["warmup"])
                loss, images = self._loss(generator, original, edit_term, pivots, index,
                                          targets, rng)
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
                step += 1
                psnr = 10 * math.log10(4.0 / max(float(F.mse_loss(images, targets)), 1e-12))
                running = psnr if running is None else 0.9 * running + 0.1 * psnr
                curve.append(round(psnr, 3))  # images span [-1, 1]: peak-to-peak 2
                progress(1, loss=float(loss.detach()), psnr=running)
                seconds = time.perf_counter() - started
                reached = c["target_psnr"] is not None and running >= c["target_psnr"]
                late = c["time_budget"] is not None and seconds > c["time_budget"]
                stopped = "target psnr" if reached else "time budget" if late else stopped
                done = {"step": step, "curve": curve, "order": order, "done": reached or late,
                        "seconds": seconds}
                if step % self.checkpoint_every == 0 or step == c["steps"] or done["done"]:
                    self._save(state_dir, done, params, optimiser, rng, saved_edits)
        finally:
            for p in params.values():
                p.requires_grad_(False)
        return {"steps": step, "psnr_curve": curve, "final_batch_psnr": curve[-1] if curve
                else None, "stopped": stopped,
                "seconds": round(time.perf_counter() - started, 3)}


def learning_rate_factor(step: int, fraction: float, schedule: str, warmup: int) -> float:
    """The learning rate's factor at ``step``, ``fraction`` (0 to 1) of the way through
    the tuning: ``constant`` 1; ``cosine`` a linear warm-up over the first ``warmup``
    steps (a short tuning of pivots that already fit stays gentle), times half a cosine
    from 1 down to :data:`FINAL_LR` at the end."""
    if schedule == "constant":
        return 1.0
    ramp = min(1.0, (step + 1) / warmup) if warmup > 0 else 1.0
    return ramp * (FINAL_LR + (1 - FINAL_LR) * 0.5 * (1 + math.cos(math.pi * fraction)))
