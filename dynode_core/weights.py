"""Reading and writing dynode's safetensors artifacts (weights + a ``format`` header).

Every artifact carries ``format`` (a name with a version) and usually a JSON
``config`` in its header; a ``.json`` sidecar with the same stem may hold them
instead. Readers refuse other formats with one line naming the file.
"""

from __future__ import annotations

import json
from pathlib import Path

from .errors import InputError
from .io import atomic_path


def read_safetensors(path) -> tuple[dict, dict]:
    """(tensors, header metadata) of a safetensors file; the sidecar JSON fills in a
    header without ``format``. Unreadable files raise :class:`InputError`."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = dict(f.metadata() or {})
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError) as exc:
        raise InputError(f"cannot read {path} as safetensors: {exc}") from None
    sidecar = path.with_suffix(".json")
    if "format" not in meta and sidecar.is_file():
        meta = {**json.loads(sidecar.read_text()), **meta}
    return tensors, meta


def check_format(meta: dict, expected: str, path, what: str, *, allow_missing: bool = False):
    """Refuse a file whose ``format`` is not ``expected``."""
    found = meta.get("format")
    if found == expected or (found is None and allow_missing):
        return
    raise InputError(f"{path}: format {found!r} is not {what} this version reads ({expected})")


def config_of(meta: dict) -> dict | None:
    """The ``config`` of a header (a JSON string) or of a sidecar (a dict)."""
    config = meta.get("config")
    return json.loads(config) if isinstance(config, str) else config


def write_safetensors(path, tensors: dict, *, fmt: str, config: dict | None = None,
                      sidecar: dict | None = None) -> Path:
    """Write ``tensors`` atomically with ``format`` and ``config`` in the header; with
    ``sidecar``, also a readable ``.json`` beside it (format, config and those fields)."""
    from safetensors.torch import save_file

    path = Path(path)
    header = {"format": fmt}
    if config is not None:
        header["config"] = json.dumps(config)
    state = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata=header)
    if sidecar is not None:
        doc = {"format": fmt, "config": config, **sidecar}
        with atomic_path(path.with_suffix(".json")) as tmp:
            tmp.write_text(json.dumps(doc, indent=2) + "\n")
    return path
