"""What every ``dynode convert`` shares, whatever the format: the output checks made
before the source is read, and the source file's SHA-256 kept in the converted file."""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..errors import InputError


def check_conversion_paths(source, out, *, overwrite: bool = False) -> tuple[Path, Path]:
    """(source, out) as paths once ``out`` is a ``.safetensors`` path that overwrites
    neither the source nor, without ``overwrite``, an existing file (or its ``.json``)."""
    from ..io import check_new_output

    source, out = Path(source), Path(out)
    if out.suffix != ".safetensors":
        raise InputError(f"--out {out} must end with .safetensors")
    if source.resolve() in (out.resolve(), out.with_suffix(".json").resolve()):
        raise InputError("--out would overwrite the file being converted")
    for target in (out, out.with_suffix(".json")):
        check_new_output(target, overwrite=overwrite)
    return source, out


def file_sha256(path) -> str:
    """The SHA-256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
