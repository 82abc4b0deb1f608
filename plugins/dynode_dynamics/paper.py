"""``dynode-paper``: the DynODE paper's published recipe, for comparison.

Xia, Yang, Xue, "GAN Inversion for Consistent Video Interpolation and
Manipulation" (arXiv 2208.11197), public demo: an MLP ODE field acting on the
last axis of W+ codes (``depth`` linear layers of ``width`` units, LeakyReLU
0.2), whose output is divided by its norm over the layer axis; dopri5; time in
frame units; each step solves from one of ``frames_per_step`` randomly chosen
frames through the others and minimises the latent MSE; Adam at lr 1.6e-4 with
betas (0, 0.99 ** 0.8); 20,000 iterations.

Limitation (unit speed): the normalisation fixes the speed of every channel
over the layer axis at 1 per frame, so the path moves sqrt(D) (22.6 for
D = 512) per frame whatever the video does. Real trajectories move 23 to 151
per frame, so the model cannot follow them: it needs hours of fitting and
still misses fast motion. It also works on all L x D numbers (no reduced
space) and does not pass through the keyframes. Use ``ode`` for real work.
"""

from __future__ import annotations

import torch
from torch import nn

from .base import ReducedDynamics
from .flow import Flow
from .training import optimise, solver_errors

ADVICE = "this recipe's float32 solve failed; lower rtol/atol are not usable, try rtol=1e-5"


class UnitSpeedField(nn.Module):
    """The paper's field: an MLP on the last axis, normalised over the layer axis."""

    def __init__(self, layers: int, dim: int, width: int, depth: int) -> None:
        super().__init__()
        sizes = [dim] + [width] * (depth - 1) + [dim]
        mods: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            mods.append(nn.Linear(a, b))
            if i < len(sizes) - 2:
                mods.append(nn.LeakyReLU(0.2))
        self.net = nn.Sequential(*mods)
        self.register_buffer("start", torch.zeros(layers, dim))
        self.register_buffer("frames_per_unit", torch.ones(()))

    def forward(self, z: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
        out = self.net(z)
        return out / (out.norm(dim=-2, keepdim=True) + eps)


class PaperDynamics(ReducedDynamics):
    """The paper's recipe; see the module docstring for its unit-speed limitation."""

    component = "dynode-paper"
    defaults = {
        "width": 512, "depth": 5, "method": "dopri5", "rtol": 1e-7, "atol": 1e-9,
        "iterations": 20000, "lr": 1.6e-4, "frames_per_step": 5, "time_budget": None,
    }

    def _build(self, space) -> nn.Module:
        layers, dim = space.shape
        return UnitSpeedField(layers, dim, int(self.config["width"]), int(self.config["depth"]))

    @property
    def flow(self) -> Flow:
        c = self.config
        return Flow(self.net, method=c["method"], rtol=c["rtol"], atol=c["atol"])

    def _fit_trajectory(self, trajectory, progress) -> None:
        c = self.config
        codes = trajectory.latents.to(self.device)
        seconds = trajectory.times
        frame = float(torch.median(seconds[1:] - seconds[:-1]))
        frames = ((seconds - seconds[0]) / frame).to(torch.float32).to(self.device)
        self.net.start.copy_(codes[0])
        self.net.frames_per_unit.fill_(float(seconds[-1] - seconds[0]) / frame)
        flow, count = self.flow, min(int(c["frames_per_step"]), len(codes))

        def loss_fn(_step):
            pick = torch.randperm(len(codes), device=self.device)[:count].sort().values
            path = flow.ivp(codes[pick[0]], frames[pick] - frames[pick[0]])
            loss = (path - codes[pick]).pow(2).mean()
            return loss, float(loss.detach())

        betas = (0.0, 0.99 ** 0.8)
        self.fit_stats = optimise(self.net.parameters(), loss_fn, component=self.component,
                                  iterations=int(c["iterations"]), lr=c["lr"], betas=betas,
                                  time_budget=c["time_budget"], clip=None, decay=False,
                                  progress=progress, advice=ADVICE)

    def _predict_codes(self, s) -> torch.Tensor:
        return self._propagate_codes(self.net.start, s)

    def _propagate_codes(self, z0, s) -> torch.Tensor:
        with solver_errors(self.component, ADVICE):
            return self.flow.ivp(z0, s * self.net.frames_per_unit)
