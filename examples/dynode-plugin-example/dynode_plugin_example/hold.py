"""Sample-and-hold dynamics and exponential smoothing of a trajectory."""

from __future__ import annotations

import torch

from dynode_core import Dynamics, no_progress
from dynode_core import LatentTrajectory, check_times


class HoldDynamics(Dynamics):
    """Each time takes the code of the latest observed frame at or before it
    (the first frame before the start). A baseline that shows a plugin's shape."""

    def __init__(self, seed: int = 0, device: str = "cpu") -> None:
        self.config = {"seed": seed, "device": device}
        self.times: torch.Tensor | None = None
        self.latents: torch.Tensor | None = None

    def fit(self, trajectory: LatentTrajectory, *, progress=no_progress) -> "HoldDynamics":
        self.times = trajectory.times.clone()
        self.latents = trajectory.latents.clone()
        progress(1, total=1, description="hold")
        return self

    def _index(self, times) -> torch.Tensor:
        if self.times is None:
            raise RuntimeError("HoldDynamics is not fitted")
        t = check_times(times)
        idx = torch.searchsorted(self.times, t, right=True) - 1
        return idx.clamp(min=0)

    def predict(self, times) -> torch.Tensor:
        return self.latents[self._index(times)].clone()

    def propagate(self, z0, times) -> torch.Tensor:
        z0 = torch.as_tensor(z0, dtype=torch.float32)
        return self.predict(times) + (z0 - self.latents[0])

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"times": self.times, "latents": self.latents}

    def load_state_dict(self, state) -> None:
        self.times = state["times"].to(torch.float64)
        self.latents = state["latents"].to(torch.float32)


def smooth_trajectory(trajectory: LatentTrajectory, weight: float) -> LatentTrajectory:
    """Exponential moving average of the codes: z'_i = w z'_{i-1} + (1 - w) z_i."""
    if not 0.0 < weight < 1.0:
        raise ValueError(f"example_smoothing must be in (0, 1), got {weight}")
    codes = trajectory.latents.clone()
    for i in range(1, len(codes)):
        codes[i] = weight * codes[i - 1] + (1.0 - weight) * trajectory.latents[i]
    return trajectory.with_latents(codes, smoothed=weight)
