"""Videos of the `shapes` world: analytic factor trajectories and edits.

Every motion is an analytic function of time ``t`` in seconds, so a frame at
any real time (between frames, past the end) has exact ground truth. Speeds
are quoted in frames of the default 25 fps: "one turn per 32 frames" is one
turn per 1.28 s whatever fps a clip is sampled at. Frame ``i`` of a clip is
at ``t = i / fps``.

An edit changes one factor of the whole motion (:data:`EDITS`): ``hue``
turns the object hue by +0.25 of the colour wheel, ``size`` scales the
object by 1.3. The edited clip is the ground truth of a consistent edit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch

from .world import RESOLUTION, Factors, render

#: Seconds per frame at the reference frame rate the speeds are quoted in.
FRAME = 1.0 / 25.0
DEFAULT_FPS = 25.0
TAU = 2 * math.pi


@dataclass(frozen=True)
class Motion:
    """A named factor trajectory: ``factors(t)`` for times ``t`` (T,) in seconds."""

    name: str
    description: str
    trajectory: Callable[[torch.Tensor], Factors]

    def factors(self, times) -> Factors:
        t = torch.as_tensor(times, dtype=torch.float64).reshape(-1)
        return self.trajectory(t)


def _f(shape: str, t: torch.Tensor, **values) -> Factors:
    return Factors.make(shape=shape, n=t.shape[0], **values)


def _circle_xy(t, period_frames: float, radius: float = 0.2):
    phase = TAU * t / (period_frames * FRAME)
    return 0.5 + radius * torch.cos(phase), 0.5 + radius * torch.sin(phase)


def _bounce_y(t, hop_frames: float, floor: float = 0.78, height: float = 0.5):
    """A smooth bounce: a softened |sin| (analytic, with a quick turn at the floor)."""
    eps = 0.15
    s = torch.sin(math.pi * t / (hop_frames * FRAME))
    lift = (torch.sqrt(s * s + eps * eps) - eps) / (math.sqrt(1 + eps * eps) - eps)
    return floor - height * lift


def _spin(t, frames_per_quarter: float = 16.0):
    return (math.pi / 2) * t / (frames_per_quarter * FRAME)


def _circle(t):
    x, y = _circle_xy(t, 32)
    return _f("disk", t, x=x, y=y, size=0.12, hue=0.0, bg_hue=0.6)


def _bounce(t):
    x = 0.5 + 0.25 * torch.sin(TAU * t / (64 * FRAME))
    return _f("disk", t, x=x, y=_bounce_y(t, 24), size=0.11, hue=0.15, bg_hue=0.7)


def _spin_motion(t):
    return _f("square", t, x=0.5, y=0.5, size=0.15, rotation=_spin(t), hue=0.33, bg_hue=0.85)


def _hue(t):
    return _f("triangle", t, x=0.5, y=0.52, size=0.14, hue=0.1 + t / (64 * FRAME), bg_hue=0.55)


def _combo(t):
    x, y = _circle_xy(t, 48)
    return _f("triangle", t, x=x, y=y, size=0.12, rotation=_spin(t),
              hue=0.75 + t / (96 * FRAME), bg_hue=0.3 + t / (256 * FRAME))


def _bounce_spin(t):
    x = 0.5 + 0.25 * torch.sin(TAU * t / (64 * FRAME))
    return _f("square", t, x=x, y=_bounce_y(t, 24), size=0.1, rotation=_spin(t),
              hue=0.55, bg_hue=0.05)


#: Motion registry: name -> :class:`Motion`.
MOTIONS: dict[str, Motion] = {m.name: m for m in (
    Motion("circle", "disk on a circle of radius 0.2 of the frame, one turn per 32 frames", _circle),
    Motion("bounce", "disk bouncing (one hop per 24 frames) while swaying left-right", _bounce),
    Motion("spin", "square at the centre turning 90 degrees per 16 frames", _spin_motion),
    Motion("hue", "still triangle whose hue drifts one turn of the wheel per 64 frames", _hue),
    Motion("combo", "triangle circling (48 frames/turn), spinning and drifting in hue", _combo),
    Motion("bounce-spin", "square bouncing, swaying and spinning 90 degrees per 16 frames",
           _bounce_spin),
)}


def _edit_hue(f: Factors) -> Factors:
    return f.replace(hue=torch.remainder(f.hue + 0.25, 1.0))


def _edit_size(f: Factors) -> Factors:
    return f.replace(size=f.size * 1.3)


#: Edit registry: name -> function(Factors) -> Factors changing exactly one factor.
EDITS: dict[str, Callable[[Factors], Factors]] = {"hue": _edit_hue, "size": _edit_size}


def get_motion(motion: str | Motion) -> Motion:
    if isinstance(motion, Motion):
        return motion
    if motion not in MOTIONS:
        from dynode_core import InputError

        raise InputError(f"unknown motion {motion!r}; valid motions: {', '.join(MOTIONS)}")
    return MOTIONS[motion]


def get_edit(edit: str | Callable | None) -> Callable[[Factors], Factors] | None:
    if edit is None or callable(edit):
        return edit
    if edit not in EDITS:
        from dynode_core import InputError

        raise InputError(f"unknown edit {edit!r}; valid edits: {', '.join(EDITS)}")
    return EDITS[edit]


def frame_times(frames: int, fps: float = DEFAULT_FPS) -> torch.Tensor:
    """Times (frames,) float64 in seconds of frames ``i / fps``."""
    if frames < 1 or fps <= 0:
        from dynode_core import InputError

        raise InputError(f"need frames >= 1 and fps > 0, got frames={frames}, fps={fps}")
    return torch.arange(frames, dtype=torch.float64) / fps


@dataclass
class Clip:
    """A rendered clip: ``times`` (T,) float64 seconds, ``images`` (T, 3, H, W) in [0, 1],
    the ``factors`` behind every frame and the nominal ``fps``."""

    times: torch.Tensor
    images: torch.Tensor
    factors: Factors
    fps: float


def video(motion: str | Motion, frames: int = 64, fps: float = DEFAULT_FPS, edit=None,
          times=None, *, resolution: int = RESOLUTION, device=None) -> Clip:
    """Render ``motion`` at ``times`` (seconds; default ``i / fps`` for ``frames`` frames),
    optionally with ``edit`` (a name in :data:`EDITS` or a function) applied."""
    motion, edit_fn = get_motion(motion), get_edit(edit)
    t = frame_times(frames, fps) if times is None else torch.as_tensor(times, dtype=torch.float64)
    factors = motion.factors(t)
    if edit_fn is not None:
        factors = edit_fn(factors)
    images = render(factors, resolution, device=device)
    return Clip(times=t.reshape(-1), images=images, factors=factors, fps=float(fps))
