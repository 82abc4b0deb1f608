"""The reduced space every bundled dynamics model works in.

A T-frame trajectory of (L, D) codes spans at most T - 1 directions around its
mean, so a PCA of the observed latents keeps them exactly while the models see
K <= T - 1 numbers instead of L * D. Coordinates are divided by one scale (the
spread of the first component), so a squared error in reduced units is the
latent squared error up to a constant and small components are not inflated.
Time is rescaled so that the observed range is [0, 1].

When ``max_components`` keeps fewer than the rank, what the kept components
miss on each observed frame is stored as ``residual`` and interpolated linearly
by models that promise to pass through the keyframes. A new code (an edited
start) can add a part outside the span: :meth:`ReducedSpace.encode` returns it
so that ``propagate`` carries it along as a constant.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

#: Singular values below this fraction of the largest are treated as zero.
RANK_TOLERANCE = 1e-6


def noise_floor_rank(singular: torch.Tensor, rows: int, cols: int) -> int:
    """How many singular values stand above the noise: Gavish and Donoho's optimal
    hard threshold for an unknown noise level (2014), omega(beta) * median, with
    beta = rows / cols <= 1 and their cubic approximation of omega."""
    beta = min(rows, cols) / max(rows, cols)
    omega = 0.56 * beta ** 3 - 0.95 * beta ** 2 + 1.82 * beta + 1.43
    values = singular[: min(rows, cols)]
    return int((values > omega * values.median()).sum())


def column_major(matrix: torch.Tensor) -> torch.Tensor:
    """``matrix`` laid out column by column (as LAPACK's SVD returns it). A fitted and a
    loaded basis then use the same matmul kernels, so a model loaded on ``--resume``
    predicts bit for bit what the fitted one did."""
    return matrix.T.contiguous().T


@dataclass
class ReducedSpace:
    """PCA basis, scale and time rescaling of one observed trajectory."""

    mean: torch.Tensor  # (N,) float32, N = L * D
    basis: torch.Tensor  # (K, N) float32, orthonormal rows
    scale: torch.Tensor  # () float32
    times: torch.Tensor  # (T,) float64 observed seconds
    coords: torch.Tensor  # (T, K) float32 observed reduced coordinates
    residual: torch.Tensor  # (T, N) float32, or (0, N) when the basis is lossless
    shape: tuple  # (L, D)

    # ------------------------------------------------------------ building
    @classmethod
    def fit(cls, latents: torch.Tensor, times: torch.Tensor, *, max_components: int | None,
            device: torch.device, denoise: bool = False) -> "ReducedSpace":
        """Build from observed latents (T, L, D) and times (T,) in seconds. With
        ``denoise`` only the components above the noise floor are kept
        (:func:`noise_floor_rank`; needs at least 4 frames)."""
        frames, layers, dim = latents.shape
        flat = latents.reshape(frames, -1).to(torch.float64)
        mean = flat.mean(0)
        centred = flat - mean
        _, sing, vh = torch.linalg.svd(centred, full_matrices=False)
        rank = int((sing > sing[0] * RANK_TOLERANCE).sum()) if sing[0] > 0 else 0
        keep = max(1, rank if max_components is None else min(rank, int(max_components)))
        if denoise and frames >= 4:
            keep = max(1, min(keep, noise_floor_rank(sing, frames - 1, flat.shape[1])))
        basis = vh[:keep]
        coords = centred @ basis.T
        spread = float(coords[:, 0].std()) if rank > 0 else 0.0
        scale = spread if spread > 0 else 1.0
        residual = centred - coords @ basis
        if keep >= rank:
            residual = residual[:0]
        f32 = dict(dtype=torch.float32, device=device)
        return cls(mean=mean.to(**f32), basis=column_major(basis.to(**f32)),
                   scale=torch.tensor(scale, **f32), times=times.to(torch.float64).cpu(),
                   coords=(coords / scale).to(**f32), residual=residual.to(**f32),
                   shape=(layers, dim))

    # -------------------------------------------------------------- mapping
    @property
    def components(self) -> int:
        return int(self.basis.shape[0])

    @property
    def device(self) -> torch.device:
        return self.basis.device

    @property
    def lossless(self) -> bool:
        return self.residual.shape[0] == 0

    def unit_time(self, seconds: torch.Tensor) -> torch.Tensor:
        """Seconds (float64) to the unit time of the observed range, float32 on device."""
        t0, t1 = self.times[0], self.times[-1]
        unit = (seconds.to(torch.float64).cpu() - t0) / (t1 - t0)
        return unit.to(torch.float32).to(self.device)

    @property
    def observed_unit_times(self) -> torch.Tensor:
        return self.unit_time(self.times)

    def encode(self, latents: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Codes (..., L, D) to (reduced coords (..., K), part outside the span (..., N))."""
        flat = latents.to(self.device, torch.float32).reshape(*latents.shape[:-2], -1) - self.mean
        coords = flat @ self.basis.T
        outside = flat - coords @ self.basis
        return coords / self.scale, outside

    def decode(self, coords: torch.Tensor, outside: torch.Tensor | None = None) -> torch.Tensor:
        """Reduced coords (..., K) to codes (..., L, D), adding ``outside`` if given."""
        flat = self.mean + (coords * self.scale) @ self.basis
        if outside is not None:
            flat = flat + outside
        return flat.reshape(*coords.shape[:-1], *self.shape)

    def keyframe_residual(self, unit_times: torch.Tensor) -> torch.Tensor | None:
        """The observed frames' residual outside the basis, interpolated linearly
        in time (held past the ends), or None when the basis is lossless."""
        if self.lossless:
            return None
        knots = self.observed_unit_times
        s = unit_times.clamp(float(knots[0]), float(knots[-1]))
        right = torch.searchsorted(knots, s.contiguous()).clamp(1, len(knots) - 1)
        left = right - 1
        w = ((s - knots[left]) / (knots[right] - knots[left]))[:, None]
        return (1 - w) * self.residual[left] + w * self.residual[right]

    # ---------------------------------------------------------------- state
    def state_dict(self, prefix: str = "space.") -> dict[str, torch.Tensor]:
        return {
            f"{prefix}mean": self.mean, f"{prefix}basis": self.basis,
            f"{prefix}scale": self.scale, f"{prefix}times": self.times,
            f"{prefix}coords": self.coords, f"{prefix}residual": self.residual,
            f"{prefix}shape": torch.tensor(self.shape, dtype=torch.int64),
        }

    @classmethod
    def from_state(cls, state: dict, device: torch.device,
                   prefix: str = "space.") -> "ReducedSpace":
        def get(name, dtype=torch.float32):
            key = f"{prefix}{name}"
            if key not in state:
                raise KeyError(f"state holds no {key!r}; is it a fitted model's state?")
            return state[key].to(device=device, dtype=dtype)

        return cls(mean=get("mean"), basis=column_major(get("basis")), scale=get("scale"),
                   times=state[f"{prefix}times"].to(torch.float64).cpu(), coords=get("coords"),
                   residual=get("residual"),
                   shape=tuple(int(v) for v in state[f"{prefix}shape"]))
