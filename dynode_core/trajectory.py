"""The :class:`LatentTrajectory` value type and its file format.

A trajectory holds observed codes only: ``times`` (T,) float64 seconds,
strictly increasing; ``latents`` (T, L, D) float32, finite (L = 1 for W,
``num_ws`` for W+); ``space`` in {"z", "w", "w+"}; string ``meta``.

File format ``dynode.trajectory/1``: one ``.safetensors`` file holding the
tensors ``times`` and ``latents``; its header metadata holds ``format``,
``space`` and ``meta`` (JSON). Readers also accept a bare tensor of codes
(T, L, D) or (T, 1, L, D) in a ``.pt``/``.pth`` file or a safetensors file
holding only ``latents``, with times = frame index / fps.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from .errors import InputError

FORMAT = "dynode.trajectory/1"
SPACES = ("z", "w", "w+")


class TrajectoryError(InputError):
    """Invalid trajectory data or file; the message is one line meant for users."""


def _check_real(values, what: str):
    """``values``, refused in one line when they hold complex numbers."""
    dtype = values.dtype if torch.is_tensor(values) else np.asarray(values).dtype
    is_complex = dtype.is_complex if isinstance(dtype, torch.dtype) else dtype.kind == "c"
    if is_complex:
        raise TrajectoryError(f"{what} must be real numbers; got complex values ({dtype})")
    return values


def _as_times(times) -> torch.Tensor:
    _check_real(times, "times")
    t = torch.as_tensor(np.asarray(times, dtype=np.float64) if not torch.is_tensor(times)
                        else times.detach().cpu(), dtype=torch.float64).reshape(-1)
    return t


def check_times(times, *, what: str = "times") -> torch.Tensor:
    """Validate a 1-D array of finite, strictly increasing times (float64 tensor)."""
    t = _as_times(times)
    if t.numel() == 0:
        raise TrajectoryError(f"{what} is empty")
    if not torch.isfinite(t).all():
        bad = int((~torch.isfinite(t)).nonzero()[0])
        raise TrajectoryError(f"{what} must be finite; entry {bad} is {t[bad].item()}")
    d = t[1:] - t[:-1]
    if (d <= 0).any():
        i = int((d <= 0).nonzero()[0])
        kind = "duplicate" if d[i] == 0 else "unsorted"
        raise TrajectoryError(
            f"{what} must be strictly increasing; {kind} at index {i + 1} "
            f"({t[i].item():g} then {t[i + 1].item():g})"
        )
    return t


@dataclass(frozen=True)
class LatentTrajectory:
    """Observed latent codes with their times; validated on construction."""

    times: torch.Tensor
    latents: torch.Tensor
    space: str = "w+"
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        times = check_times(self.times)
        lat = torch.as_tensor(self.latents).detach().cpu()
        if not lat.is_floating_point():
            raise TrajectoryError(f"latents must be real floating-point numbers; got {lat.dtype}")
        if lat.dim() == 2:
            lat = lat[:, None, :]
        if lat.dim() != 3:
            raise TrajectoryError(
                f"latents must have shape (T, L, D); got {tuple(lat.shape)}"
            )
        lat = lat.to(torch.float32).contiguous()
        if lat.shape[0] != times.shape[0]:
            raise TrajectoryError(
                f"latents hold {lat.shape[0]} frames but times hold {times.shape[0]}"
            )
        if not torch.isfinite(lat).all():
            frame = int((~torch.isfinite(lat)).flatten(1).any(1).nonzero()[0])
            raise TrajectoryError(f"latents must be finite; frame {frame} holds NaN or inf")
        if self.space not in SPACES:
            raise TrajectoryError(f"unknown latent space {self.space!r}; valid: {', '.join(SPACES)}")
        if self.space in ("z", "w") and lat.shape[1] != 1:
            raise TrajectoryError(f"space {self.space!r} needs L = 1, got L = {lat.shape[1]}")
        object.__setattr__(self, "times", times)
        object.__setattr__(self, "latents", lat)
        object.__setattr__(self, "meta", {str(k): v for k, v in dict(self.meta).items()})

    # ------------------------------------------------------------------ views
    def __len__(self) -> int:
        return int(self.times.shape[0])

    @property
    def num_layers(self) -> int:
        return int(self.latents.shape[1])

    @property
    def dim(self) -> int:
        return int(self.latents.shape[2])

    @property
    def duration(self) -> float:
        return float(self.times[-1] - self.times[0])

    def subset(self, index) -> "LatentTrajectory":
        """The trajectory restricted to some frames (a slice, list or bool mask)."""
        idx = torch.as_tensor(np.arange(len(self))[index])
        return replace(self, times=self.times[idx], latents=self.latents[idx])

    def with_latents(self, latents, times=None, **meta) -> "LatentTrajectory":
        return replace(self, latents=latents, times=self.times if times is None else times,
                       meta={**self.meta, **meta})

    def linear_at(self, times) -> torch.Tensor:
        """Codes (N, L, D) on straight lines between the observed codes, at ``times``
        (held at the first / last code outside the observed span)."""
        at = _as_times(times).clamp(self.times[0], self.times[-1])
        right = torch.searchsorted(self.times, at).clamp(1, len(self) - 1)
        t0, t1 = self.times[right - 1], self.times[right]
        weight = ((at - t0) / (t1 - t0)).to(self.latents.dtype)[:, None, None]
        return torch.lerp(self.latents[right - 1], self.latents[right], weight)

    # -------------------------------------------------------------------- io
    def save(self, path: str | os.PathLike) -> Path:
        """Write atomically as ``dynode.trajectory/1`` safetensors."""
        from .io import write_safetensors

        return write_safetensors(path, {"times": self.times, "latents": self.latents},
                                 fmt=FORMAT, metadata={"space": self.space,
                                                       "meta": json.dumps(self.meta)})

    @classmethod
    def load(cls, path: str | os.PathLike, *, fps: float | None = None) -> "LatentTrajectory":
        """Read a trajectory file, or a bare tensor of codes (times = index / fps)."""
        path = Path(path)
        if not path.exists():
            raise TrajectoryError(f"no such trajectory file: {path}")
        if path.suffix == ".safetensors":
            return _load_safetensors(path, fps)
        if path.suffix in (".pt", ".pth"):
            from .io import load_tensor_file

            try:
                obj = load_tensor_file(path, "a tensor of codes")
            except InputError as exc:
                raise TrajectoryError(str(exc)) from None
            if torch.is_tensor(obj):
                return _bare(obj, fps, source=str(path))
            raise TrajectoryError(f"{path} holds a {type(obj).__name__}, not a tensor of codes")
        raise TrajectoryError(f"{path}: expected a .safetensors, .pt or .pth file")


def _bare(codes: torch.Tensor, fps: float | None, source: str) -> LatentTrajectory:
    if not torch.is_tensor(codes) or not codes.is_floating_point():
        kind = codes.dtype if torch.is_tensor(codes) else type(codes).__name__
        raise TrajectoryError(f"{source}: codes must be real floating-point numbers; got {kind}")
    codes = codes.detach().cpu().float()
    if codes.dim() == 4 and codes.shape[1] == 1:
        codes = codes[:, 0]
    if codes.dim() == 2:
        codes = codes[:, None]
    if codes.dim() != 3:
        raise TrajectoryError(
            f"{source}: bare codes must be (T, L, D) or (T, 1, L, D), got {tuple(codes.shape)}"
        )
    rate = 1.0 if fps is None else float(fps)
    if not (rate > 0 and math.isfinite(rate)):
        raise TrajectoryError(f"fps must be positive, got {fps}")
    times = torch.arange(codes.shape[0], dtype=torch.float64) / rate
    space = "w+" if codes.shape[1] > 1 else "w"
    return LatentTrajectory(times, codes, space, {"source": source, "fps": rate})


def _load_safetensors(path: Path, fps: float | None) -> LatentTrajectory:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:  # noqa: BLE001
        raise TrajectoryError(f"cannot read {path}: not a safetensors file ({exc})") from exc
    fmt = header.get("format")
    if fmt is None:
        if "latents" not in tensors:
            raise TrajectoryError(f"{path}: no 'latents' tensor and no dynode format header")
        return _bare(tensors["latents"], fps, source=str(path))
    if fmt != FORMAT:
        raise TrajectoryError(
            f"{path}: format {fmt!r} is not readable by this dynode (reads {FORMAT})"
        )
    missing = {"times", "latents"} - set(tensors)
    if missing:
        raise TrajectoryError(f"{path}: missing tensors {', '.join(sorted(missing))}")
    try:
        meta = json.loads(header.get("meta", "{}"))
    except json.JSONDecodeError as exc:
        raise TrajectoryError(f"{path}: header 'meta' is not valid JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise TrajectoryError(f"{path}: header 'meta' must be a JSON object, "
                              f"got {type(meta).__name__}")
    return LatentTrajectory(tensors["times"], tensors["latents"], header.get("space", "w+"), meta)
