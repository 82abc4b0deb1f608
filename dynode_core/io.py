"""Small file helpers: atomic writes and user-facing path checks."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from .errors import DynodeError


class OutputError(DynodeError, OSError):
    """An output path that cannot or must not be written; one line for users."""


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
