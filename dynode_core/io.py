"""File helpers for plugin authors: atomic writes, user-facing path checks, and
dynode's safetensors artifacts (weights + a ``format`` header).

Every safetensors artifact carries ``format`` (a name with a version) and usually
a JSON ``config`` in its header; a ``.json`` sidecar with the same stem may hold
them instead. Readers refuse other formats with one line naming the file.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

from .errors import InputError, OutputError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path beside ``path``; rename it into place on success.

    The temporary file keeps the target's suffix, so libraries that choose a
    format by suffix (PyAV, Pillow) still work.
    """
    path = Path(path)
    if path.parent and not path.parent.exists():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create folder {path.parent}: {exc.strerror or exc}") from exc
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}",
                               dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual mode
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def check_new_output(path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Refuse to overwrite an existing file unless asked."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputError(f"{path} exists; choose another --out or pass --overwrite")
    return path

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
