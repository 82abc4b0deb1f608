"""Run folders: created safely, never clobbering what a user owns, one writer at a time."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ..errors import OutputError

MARKER = ".dynode-run"
LOCK = ".dynode-run.lock"
#: Files a run folder holds before any stage finished: the same command may reuse it.
BEFORE_WORK = {MARKER, LOCK, "config.toml"}


def is_run_folder(path: Path) -> bool:
    return (path / MARKER).is_file()


class RunLock:
    """An exclusive lock on a run folder (``flock`` on its lock file): the kernel releases
    it when the process ends, however it ends. The holder's pid is written in the file.
    ``name`` and ``what``: the lock file and the folder's kind (a batch folder uses the
    same lock under its own name)."""

    def __init__(self, folder: Path, name: str = LOCK, what: str = "run folder") -> None:
        import fcntl

        self.path = Path(folder) / name
        try:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise OutputError(f"cannot lock {what} {folder}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self._fd, 64, 0).decode(errors="replace").strip() or "?"
            os.close(self._fd)
            raise OutputError(f"{what} {folder} is in use by another dynode process (pid "
                              f"{holder}); wait for it to finish or choose another --out") from None
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{os.getpid()}\n".encode(), 0)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None


def _has_work(folder: Path) -> bool:
    return any(p.name not in BEFORE_WORK for p in folder.iterdir())


def _empty_keeping_lock(folder: Path) -> None:
    for path in folder.iterdir():
        if path.name == LOCK:
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def _check_target(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"--out {folder} is a file, not a folder")
    if (folder.is_dir() and any(p.name != LOCK for p in folder.iterdir())
            and not is_run_folder(folder)):
        raise OutputError(f"--out {folder} exists and is not a dynode run folder; "
                          "choose a new or empty folder")


def check_run_folder(out, *, resume: bool = False, overwrite: bool = False) -> Path:
    """Refuse an ``out`` that cannot take this run, without creating or changing anything
    (see :func:`prepare_run_folder` for the rules)."""
    folder = Path(out)
    _check_target(folder)
    if is_run_folder(folder) and _has_work(folder) and not (resume or overwrite):
        raise OutputError(f"--out {folder} holds a dynode run already; pass --resume to "
                          "continue it or --overwrite to replace it")
    return folder


def prepare_run_folder(out, *, resume: bool = False, overwrite: bool = False
                       ) -> tuple[Path, RunLock]:
    """Create ``out`` for a run and lock it; returns (folder, lock).

    - a missing or empty folder is used, and so is a run folder in which no stage
      finished (a run that failed before doing any work);
    - an existing dynode run is continued with ``resume`` or replaced with
      ``overwrite`` (only dynode's own folders are ever emptied);
    - anything else (a file, a folder of other things, a path under a file) is refused;
    - a folder another dynode process is writing is refused, naming its pid.
    """
    folder = check_run_folder(out, resume=resume, overwrite=overwrite)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise OutputError(f"cannot create --out {folder}: a parent is a file") from None
    except OSError as exc:
        raise OutputError(f"cannot create --out {folder}: {exc.strerror or exc}") from None
    lock = RunLock(folder)
    try:
        check_run_folder(folder, resume=resume, overwrite=overwrite)  # again, now it is ours
        if is_run_folder(folder) and _has_work(folder) and overwrite and not resume:
            _empty_keeping_lock(folder)
        from ..io import atomic_write_text

        atomic_write_text(folder / MARKER, "dynode run folder\n")
    except BaseException:
        lock.release()
        raise
    return folder, lock
