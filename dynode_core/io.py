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

    Any operating-system error while writing (a full disk, a read-only file system,
    no permission), including the ones libraries raise in their own types (safetensors),
    becomes one :class:`OutputError` naming the path and the reason; the temporary
    file is removed and nothing is left at ``path``.
    """
    path = Path(path)
    if path.parent and not path.parent.exists():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create folder {path.parent}: {exc.strerror or exc}") from exc
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}",
                                   dir=path.parent)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual mode
        os.replace(tmp, path)
    except OutputError:
        raise
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc
    except Exception as exc:
        reason = _write_failure(exc)
        if reason is None:
            raise
        raise OutputError(f"cannot write {path}: {reason}") from exc
    finally:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass


#: What libraries say in their own exception types when the system refused a write.
_WRITE_FAILURES = ("No space left on device", "Read-only file system", "Permission denied",
                   "Disk quota exceeded")


def _write_failure(exc: Exception) -> str | None:
    """The reason, when ``exc`` (e.g. a SafetensorError) reports a refused write."""
    text = str(exc)
    return next((reason for reason in _WRITE_FAILURES if reason in text), None)


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


def config_of(meta: dict, path=None) -> dict | None:
    """The ``config`` of a header (a JSON string) or of a sidecar (a dict); a config that
    is not a JSON object is one :class:`InputError` naming ``path``."""
    config = meta.get("config")
    if isinstance(config, str):
        try:
            config = json.loads(config)
        except ValueError as exc:
            raise InputError(f"{path or 'the file'}: its config is not valid JSON "
                             f"({exc})") from None
    if config is not None and not isinstance(config, dict):
        raise InputError(f"{path or 'the file'}: its config is a {type(config).__name__}, "
                         "not a JSON object")
    return config


def write_safetensors(path, tensors: dict, *, fmt: str, config: dict | None = None,
                      sidecar: dict | None = None, metadata: dict | None = None) -> Path:
    """Write ``tensors`` atomically with ``format``, ``config`` and the strings in
    ``metadata`` in the header; with ``sidecar``, also a readable ``.json`` beside it
    (format, config and those fields). The same tensors and header give the same bytes."""
    from safetensors.torch import save_file

    path = Path(path)
    header = {**(metadata or {}), "format": fmt}
    if config is not None:
        header["config"] = json.dumps(config)
    state = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata=header)
        _canonical_header(tmp)
    if sidecar is not None:
        doc = {"format": fmt, "config": config, **sidecar}
        with atomic_path(path.with_suffix(".json")) as tmp:
            tmp.write_text(json.dumps(doc, indent=2) + "\n")
    return path


# ---------------------------------------------------------------- user tensor files
_REFUSAL = "dynode reads only plain tensors and containers (weights_only)"


def load_tensor_file(path, what: str, *, allow=()):
    """What a user's ``.pt``/``.pth`` (``torch.load(weights_only=True)``) or ``.npy``
    (``allow_pickle=False``, as a tensor) file holds, on the CPU; nothing in it runs.

    ``what`` says what the file should be ("an e4e/pSp checkpoint"); ``allow`` lists
    extra classes to accept (e.g. ``argparse.Namespace``). A file that would run code
    is refused with one :class:`InputError` naming the global it would have run.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no such file: {path} (expected {what})")
    if path.suffix.lower() == ".npy":
        return _load_npy(path, what)
    import warnings

    import torch

    try:
        with torch.serialization.safe_globals(list(allow)), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # pickle-protocol notices
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure to read is the user's file
        name = _refused_global(str(exc))
        if name is not None:
            raise InputError(_refused(path, what, name)) from None
        raise InputError(f"cannot read {path} as {what} ({_first_line(exc)})") from None


def _load_npy(path: Path, what: str):
    import numpy as np
    import torch

    try:
        array = np.load(path, allow_pickle=False)
    except ValueError as exc:
        if "pickle" in str(exc) or "Object arrays" in str(exc):
            raise InputError(f"{path}: refused as {what}: it holds pickled Python objects "
                             "and loading it would run code; dynode reads only numeric arrays "
                             "(allow_pickle=False)") from None
        raise InputError(f"cannot read {path} as {what} ({_first_line(exc)})") from None
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"cannot read {path} as {what} ({_first_line(exc)})") from None
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "biuf":
        kind = getattr(array, "dtype", type(array).__name__)
        raise InputError(f"{path} is not {what}: it holds a {kind} array, not numbers")
    return torch.from_numpy(array)


def _refused_global(text: str) -> str | None:
    """The global torch's weights-only unpickler refused, from its message."""
    import re

    for pattern in (r"GLOBAL ([\w.]+)", r"Unsupported class ([\w.]+)",
                    r"unrecognized function <built-in function (\w+)>"):
        found = re.search(pattern, text)
        if found:
            return found.group(1)
    return None


def _refused(path: Path, what: str, name: str) -> str:
    last = name.rpartition(".")[2]
    if last[:1].isupper() or name.startswith(("torch.nn.modules.", "torch_utils.")):
        return (f"{path}: refused as {what}: it holds a whole pickled Python object ({name}) "
                f"and loading it would run code; {_REFUSAL}")
    return f"{path}: refused as {what}: loading it would run code ({name}); {_REFUSAL}"


def _first_line(exc: Exception) -> str:
    """``Type: first sentence`` of an error; of torch's weights-only errors, only the
    reader's own finding (never its advice to load the file unsafely)."""
    text = str(exc)
    if "Weights only load failed" in text:
        text = text.split("WeightsUnpickler error:")[-1] if "WeightsUnpickler" in text else \
            "not plain tensors and containers"
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    detail = lines[0].split(". ")[0][:120] if lines else "truncated or empty file"
    return f"{type(exc).__name__}: {detail}"


# ---------------------------------------------------------------- byte-stable safetensors
def _canonical_header(path) -> None:
    """Rewrite a safetensors file's JSON header with sorted keys, in place.

    safetensors keeps the header metadata in a hash map, so the same tensors and metadata
    come out in another key order each time. Sorted, compact JSON is never longer than
    safetensors' own compact JSON; it is padded with spaces to the same length (headers
    are space-padded to 8-byte alignment already), so the tensor data does not move.
    """
    import struct

    with open(path, "r+b") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(size))
        text = json.dumps(header, sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False).encode()
        if len(text) > size:  # not a header safetensors wrote: leave it as it is
            return
        f.seek(8)
        f.write(text.ljust(size, b" "))
