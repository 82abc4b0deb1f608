"""Edits: the ``EDITOR:DIRECTION[:STRENGTH]`` syntax, direction lookup and propagation.

An edit is made on frame 0's code only and carried through the video by a
propagation strategy (:data:`PROPAGATIONS`):

- ``offset`` (default): add frame 0's latent offset to every frame (per-frame
  editing); needs no dynamics at the observed times. On the shapes world's
  benchmark no other strategy beats it (docs/editing.md);
- ``dynamics``: re-solve the fitted dynamics from the edited frame-0
  code and keep the keyframe correction the fitted path needs:
  ``predict(t) + propagate(edited z0, t) - propagate(z0, t)``; the edit evolves
  with the dynamics while the motion stays the original's, even for a model
  whose plain solve misses the keyframes (the ``ode``'s endpoint mode);
- ``cde``: the edited start driven by the original control path; only for
  dynamics that declare ``controlled`` (the ``cde`` model);
- ``ivp``: the bare initial value problem from the edited start,
  ``propagate(edited z0, t)`` (the paper's literal recipe); with a model whose
  plain solve misses the keyframes the edited video then moves differently.

Python API::

    from dynode_core.edits import parse_edit, resolve_edit, propagate_edit
    edit = resolve_edit("file:smile.pt:1.5", generator=None, latent_shape=(18, 512))
    codes = propagate_edit(dynamics, trajectory, edit, strategy="dynamics", times=times)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

from .errors import InputError

#: Strength when a spec gives none.
DEFAULT_STRENGTH = 1.0


@dataclass(frozen=True)
class EditSpec:
    """A parsed ``EDITOR:DIRECTION[:STRENGTH]``."""

    editor: str
    direction: str
    strength: float = DEFAULT_STRENGTH

    def __str__(self) -> str:
        return f"{self.editor}:{self.direction}:{self.strength:g}"


def parse_edit(spec: str | EditSpec) -> EditSpec:
    """Parse ``EDITOR:DIRECTION[:STRENGTH]`` (e.g. ``sefa:3:2.0``, ``file:smile.pt``).

    The editor is the text before the first colon; a last colon-separated part that
    is a number is the strength (so directions may be paths holding colons).
    """
    if isinstance(spec, EditSpec):
        return spec
    editor, sep, rest = str(spec).strip().partition(":")
    direction, strength = rest, DEFAULT_STRENGTH
    head, colon, tail = rest.rpartition(":")
    if colon:
        try:
            strength = float(tail)
        except ValueError:
            pass
        else:
            direction = head
    if not sep or not editor or not direction:
        raise InputError(f"bad edit {spec!r}: use EDITOR:DIRECTION[:STRENGTH], e.g. sefa:3:2.0 or "
                         "file:smile.pt:1.5")
    if not math.isfinite(strength):
        raise InputError(f"bad edit {spec!r}: the strength must be a finite number")
    return EditSpec(editor.lower(), direction, strength)


@dataclass(frozen=True)
class LatentShape:
    """Stands in for a generator where only the latent shape is known (direction files)."""

    num_ws: int
    latent_dim: int


@dataclass
class Edit:
    """A resolved edit: the editor, its direction and the strength."""

    spec: EditSpec
    editor: object
    direction: object
    options: dict = field(default_factory=dict)

    @property
    def strength(self) -> float:
        return self.spec.strength

    def apply(self, codes):
        """The edited codes (..., L, D)."""
        return self.editor.apply(codes, self.direction, self.strength)


def editor_names() -> list[str]:
    from .plugins import get_registry

    return get_registry().names("editors")


def create_editor(name: str, **options):
    """An editor from the registry, built with ``options``; errors list the valid names."""
    from .plugins import get_registry
    from .registry import RegistryError

    try:
        component = get_registry().get("editors", name)
    except RegistryError as exc:
        raise InputError(str(exc)) from None
    return component.create(**options)


def find_direction(editor, name: str, generator, editor_name: str = "editor"):
    """The direction ``name`` of ``editor``: its :meth:`~dynode_core.Editor.direction`
    when that knows it, else a lookup in ``directions(generator)`` whose error lists the
    valid names."""
    direction = editor.direction(name, generator)
    if direction is not None:
        return direction
    found = editor.directions(generator)
    if name not in found:
        valid = ", ".join(list(found)[:20]) + (", ..." if len(found) > 20 else "")
        raise InputError(f"editor '{editor_name}' has no direction {name!r}; valid directions: "
                         f"{valid or '(none)'}")
    return found[name]


def resolve_edit(spec, generator=None, *, latent_shape=None, **options) -> Edit:
    """Parse ``spec`` and find its direction.

    ``generator``: needed by editors that read the model (sefa, ganspace, supervised).
    ``latent_shape``: ``(L, D)`` used in its place when there is no generator (file
    directions). ``options``: the editor's keyword options.
    """
    spec = parse_edit(spec)
    editor = create_editor(spec.editor, **options)
    space = generator if generator is not None else (
        LatentShape(*latent_shape) if latent_shape is not None else None)
    direction = find_direction(editor, spec.direction, space, spec.editor)
    return Edit(spec, editor, direction, dict(options))


def resolve_direction(spec, generator=None, **kwargs):
    """The :class:`~dynode_core.interfaces.Direction` an edit spec names."""
    return resolve_edit(spec, generator, **kwargs).direction


# ------------------------------------------------------------------ propagation


def _same_times(a, b) -> bool:
    import torch

    a, b = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    return a.shape == b.shape and bool(torch.allclose(a, b, rtol=0, atol=1e-9))


def reference_codes(dynamics, trajectory, times):
    """The unedited codes at ``times``: the observed ones at the observed times, else
    ``dynamics.predict(times)``."""
    import torch

    if _same_times(times, trajectory.times):
        return trajectory.latents.clone()
    if dynamics is None:
        raise InputError("codes at times other than the observed ones need fitted dynamics")
    return torch.as_tensor(dynamics.predict(times)).detach().cpu().float()


def _offset(dynamics, trajectory, z0, edited0, times):
    return reference_codes(dynamics, trajectory, times) + (edited0 - z0)


def _ivp(dynamics, trajectory, z0, edited0, times):
    import torch

    if dynamics is None:
        raise InputError("propagation by the dynamics needs fitted dynamics (a folder written by "
                         "`dynode fit`)")
    return torch.as_tensor(dynamics.propagate(edited0, times)).detach().cpu().float()


def _via_dynamics(dynamics, trajectory, z0, edited0, times):
    edited = _ivp(dynamics, trajectory, z0, edited0, times)
    unedited = _ivp(dynamics, trajectory, z0, z0, times)
    return reference_codes(dynamics, trajectory, times) + (edited - unedited)


def _via_cde(dynamics, trajectory, z0, edited0, times):
    if dynamics is None or not dynamics.controlled:
        what = "none" if dynamics is None else type(dynamics).__name__
        raise InputError(f"propagation 'cde' needs controlled dynamics (the 'cde' model), but "
                         f"the dynamics are {what}: fit with `dynode fit --dynamics cde`, or use "
                         "--propagate dynamics or offset")
    return _ivp(dynamics, trajectory, z0, edited0, times)


#: Propagation strategies: name -> fn(dynamics, trajectory, z0, edited z0, times) -> codes.
PROPAGATIONS: dict[str, Callable] = {"dynamics": _via_dynamics, "offset": _offset, "cde": _via_cde,
                                     "ivp": _ivp}


def _check_fit(direction, trajectory) -> None:
    vector = direction.vector
    if vector is None:
        return
    if vector.shape[-1] != trajectory.dim:
        raise InputError(f"direction '{direction.name}' has D={vector.shape[-1]} but the "
                         f"trajectory's codes have D={trajectory.dim}")
    if vector.dim() == 2 and vector.shape[0] != trajectory.num_layers:
        raise InputError(f"direction '{direction.name}' is W+ with {vector.shape[0]} layers but "
                         f"the trajectory has {trajectory.num_layers} layer(s)")


def propagate_edit(dynamics, trajectory, edit, generator=None, strategy: str = "offset",
                   times=None, **options):
    """Edit frame 0 of ``trajectory`` and carry the edit to ``times`` (default: the
    observed times) with ``strategy`` (a name in :data:`PROPAGATIONS`).

    ``edit``: an :class:`Edit`, or a spec resolved with ``generator`` and ``options``.
    Returns the edited codes (len(times), L, D).
    """
    import torch

    if strategy not in PROPAGATIONS:
        raise InputError(f"unknown propagation {strategy!r}; valid propagations: "
                         f"{', '.join(PROPAGATIONS)}")
    if not isinstance(edit, Edit):
        edit = resolve_edit(edit, generator,
                            latent_shape=(trajectory.num_layers, trajectory.dim), **options)
    _check_fit(edit.direction, trajectory)
    times = trajectory.times if times is None else torch.as_tensor(times, dtype=torch.float64)
    z0 = trajectory.latents[0]
    edited0 = edit.apply(z0)
    return PROPAGATIONS[strategy](dynamics, trajectory, z0, edited0, times)


def extrapolation_times(times, factor: int, seconds: float):
    """The times past the last of ``times`` that ``seconds`` of extrapolation at
    ``factor`` times the frame rate gives: one step apart, the step being the median
    observed step (the mean of the two middle steps for an even count) / ``factor``;
    empty for 0 seconds. The one rule for ``dynode run``, ``dynode interpolate`` and the
    output-size check."""
    import torch

    times = torch.as_tensor(times, dtype=torch.float64)
    count, step = extrapolation_count(times, factor, seconds)
    return times[-1] + step * torch.arange(1, count + 1, dtype=torch.float64)


def extrapolation_count(times, factor: int, seconds: float) -> tuple[int, float]:
    """(how many times, their step) :func:`extrapolation_times` gives, computed without
    making them, so a size check can refuse a huge output before anything is allocated."""
    import numpy as np

    times = np.asarray(times, dtype=np.float64)
    if seconds <= 0 or len(times) < 2:
        return 0, 0.0
    step = float(np.median(np.diff(times))) / factor
    return max(1, int(round(seconds / step))), step


def upsample_times(times, factor: int):
    """``factor`` steps per observed interval: factor*(T-1)+1 times over the same span."""
    import torch

    times = torch.as_tensor(times, dtype=torch.float64)
    if int(factor) != factor or factor < 1:
        raise InputError(f"--factor must be a positive integer, got {factor}")
    if factor == 1 or len(times) < 2:
        return times.clone()
    steps = torch.arange(int(factor), dtype=torch.float64) / factor
    inner = (times[:-1, None] + steps * (times[1:] - times[:-1])[:, None]).reshape(-1)
    return torch.cat([inner, times[-1:]])
