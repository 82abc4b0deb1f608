"""Device names: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``, resolved once, one rule set."""

from __future__ import annotations

from .errors import InputError

#: What ``--device`` accepts on every command.


def resolve_device(device) -> str:
    """``auto`` -> ``cuda`` when torch sees a GPU, else ``cpu``; ``cuda`` (or ``cuda:N``)
    without one, or any other name, is a one-line :class:`InputError`."""
    import torch

    name = str(device)
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name != "cpu" and name != "cuda" and not name.startswith("cuda:"):
        raise InputError(f"unknown device {name!r}; valid: auto, cpu, cuda, cuda:N")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"device {name!r} was asked for but torch sees no CUDA GPU; "
                         "use --device cpu")
    return name
