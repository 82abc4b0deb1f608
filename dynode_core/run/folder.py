"""Run folders: created safely, never clobbering what a user owns."""

from __future__ import annotations

import shutil
from pathlib import Path

from ..errors import OutputError

MARKER = ".dynode-run"


def is_run_folder(path: Path) -> bool:
    return (path / MARKER).is_file()


def prepare_run_folder(out, *, resume: bool = False, overwrite: bool = False) -> Path:
    """Create ``out`` for a run.

    - a missing or empty folder is used;
    - an existing dynode run is continued with ``resume`` or replaced with
      ``overwrite`` (only dynode's own folders are ever deleted);
    - anything else (a file, a folder of other things, a path under a file) is refused.
    """
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"--out {folder} is a file, not a folder")
    if folder.is_dir() and any(folder.iterdir()):
        if not is_run_folder(folder):
            raise OutputError(f"--out {folder} exists and is not a dynode run folder; "
                              "choose a new or empty folder")
        if overwrite and not resume:
            shutil.rmtree(folder)
        elif not resume:
            raise OutputError(f"--out {folder} holds a dynode run already; pass --resume to "
                              "continue it or --overwrite to replace it")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise OutputError(f"cannot create --out {folder}: a parent is a file") from None
    except OSError as exc:
        raise OutputError(f"cannot create --out {folder}: {exc.strerror or exc}") from None
    (folder / MARKER).write_text("dynode run folder\n")
    return folder
