"""Saving and loading fitted dynamics.

A fitted model is a folder with ``state.safetensors`` (its ``state_dict()``)
and ``dynamics.json``: ``format`` = ``dynode.dynamics/1``, the component name,
the config (the factory's keywords), the fitted trajectory's description
(space, meta, frames, shape) and the fit statistics. Loading asks the
registry's factory for that component to rebuild the model from its config,
then restores the state; nothing is unpickled.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .errors import InputError
from .io import OutputError, atomic_write_text, write_safetensors

FORMAT = "dynode.dynamics/1"
STATE_FILE = "state.safetensors"
META_FILE = "dynamics.json"
#: fit statistics that measure the machine, not the fit: left out of dynamics.json so the
#: same fit writes the same bytes (run.json and metrics.json keep the times)
MEASURED = ("seconds",)


def _jsonable(value):
    """Config values as JSON (tuples become lists); refuse what JSON cannot hold."""
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError) as exc:
        raise OutputError(f"cannot save dynamics: config is not JSON-able ({exc})") from exc


def save_dynamics(model, name: str, folder: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write a fitted model to ``folder`` (created if needed); returns the folder.

    Refuses a folder that already holds fitted dynamics unless ``overwrite``.
    """
    from . import __version__

    folder = Path(folder)
    if (folder / META_FILE).exists() and not overwrite:
        raise OutputError(f"{folder} already holds fitted dynamics; choose another --out "
                          "or pass --overwrite")
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder} exists and is not a folder")
    state = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    doc = {
        "format": FORMAT,
        "component": name,
        "config": _jsonable(dict(model.config)),
        "trajectory": _jsonable(dict(model.fitted_info or {})),
        "fit": _jsonable({k: v for k, v in dict(model.fit_stats or {}).items()
                          if k not in MEASURED}),
        "dynode_version": __version__,
    }
    write_safetensors(folder / STATE_FILE, state, fmt=FORMAT, metadata={"component": name})
    atomic_write_text(folder / META_FILE, json.dumps(doc, indent=2) + "\n")
    return folder


def read_dynamics_info(folder: str | os.PathLike) -> dict:
    """The ``dynamics.json`` of a saved model, checked for its format."""
    folder = Path(folder)
    meta = folder / META_FILE
    if not meta.is_file():
        raise InputError(f"{folder} holds no fitted dynamics (no {META_FILE}); "
                         "write one with `dynode fit`")
    try:
        doc = json.loads(meta.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read {meta}: {exc}") from exc
    fmt = doc.get("format") if isinstance(doc, dict) else None
    if fmt != FORMAT:
        raise InputError(f"{meta}: format {fmt!r} is not readable by this dynode "
                         f"(reads {FORMAT})")
    for key in ("component", "config"):
        if key not in doc:
            raise InputError(f"{meta}: missing {key!r}")
    return doc


def load_dynamics(folder: str | os.PathLike, *, device: str | None = None, registry=None):
    """Rebuild a saved model with its registered factory and restore its state.

    ``device`` (``cpu``, ``cuda``, ``auto``) overrides the saved device.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = Path(folder)
    doc = read_dynamics_info(folder)
    config = dict(doc["config"])
    if device is not None:
        config["device"] = device
    if registry is None:
        from .plugins import get_registry

        registry = get_registry()
    model = registry.create("dynamics", doc["component"], **config)
    try:
        state = load_file(str(folder / STATE_FILE))
    except (OSError, SafetensorError) as exc:
        raise InputError(f"cannot read {folder / STATE_FILE}: {exc}") from exc
    try:
        model.load_state_dict(state)
    except (KeyError, RuntimeError, ValueError) as exc:
        raise InputError(f"{folder}: the saved state does not fit component "
                         f"{doc['component']!r}: {exc}") from exc
    model.fitted_info = doc.get("trajectory", {})
    model.fit_stats = doc.get("fit", {})
    return model
