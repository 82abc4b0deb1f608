"""Choosing and building an inverter from names and options (CLI, config files).

Rules: with no inverter name, ``hybrid`` when an encoder exists (given, or
registered for the generator through ``register_encoders(..., generator=NAME)``),
otherwise ``optim``. Options go to the inverter's factory only when it takes
them; an option that the chosen inverter cannot use is an :class:`InputError`
(e.g. ``--steps`` for ``e4e``), except ``seed`` and ``device``, which are passed
where accepted and dropped elsewhere.
"""

from __future__ import annotations

import inspect

from .. import defaults
from ..errors import InputError

OPTIONAL = ("seed", "device")


def default_encoder(generator_name: str | None) -> str | None:
    """The first registered encoder (by name) declared for ``generator_name``."""
    if not generator_name:
        return None
    from ..plugins import get_registry

    for component in get_registry().components("encoders"):
        if component.meta.get("generator") == generator_name:
            return component.name
    return None


def _accepts(factory, name: str) -> bool:
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return True
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def build_inverter(name: str | None = None, *, generator_name: str | None = None,
                   encoder=None, steps: int | None = None, **options):
    """An inverter instance from a registry name (or the default) and options."""
    from ..plugins import get_registry

    if name is not None and not isinstance(name, str):
        return name  # already an inverter
    registry = get_registry()
    fallback = default_encoder(generator_name) if encoder is None else None
    if name is None:
        has_encoder = encoder is not None or fallback is not None
        with_encoder = defaults.INVERTER_WITH_ENCODER
        name = with_encoder if has_encoder and ("inverters", with_encoder) in registry \
            else defaults.INVERTER
    component = registry.get("inverters", name)
    if encoder is None and component.meta.get("needs_encoder"):
        encoder = fallback  # the generator's own encoder, only for inverters that use one
    wanted = {"encoder": encoder, "steps": steps, **options}
    kwargs = {}
    for key, value in wanted.items():
        if value is None:
            continue
        if _accepts(component.factory, key):
            kwargs[key] = value
        elif key not in OPTIONAL:
            raise InputError(f"inverter {component.name!r} does not take the setting {key!r}")
    if component.meta.get("needs_encoder") and kwargs.get("encoder") is None:
        names = ", ".join(registry.names("encoders")) or "(none registered)"
        raise InputError(f"inverter {component.name!r} needs an encoder: pass --encoder with a "
                         f"file or a registered name ({names})")
    return component.create(**kwargs)
