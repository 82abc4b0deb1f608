"""Rich progress bars behind the plain ``progress(advance, total=None, description=None)``
callback that components receive (see :data:`dynode_core.interfaces.Progress`)."""

from __future__ import annotations

from typing import Callable


class Progressor:
    """One rich progress display for a whole run; ``task()`` gives a callback per step.

    Disabled (``enabled=False``, e.g. ``--quiet`` or ``--json``) it still returns
    callbacks, which do nothing.
    """

    def __init__(self, *, enabled: bool = True, console=None) -> None:
        self.enabled = enabled
        self._progress = None
        if enabled:
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                       TimeElapsedColumn, TimeRemainingColumn)

            self._progress = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                TextColumn("{task.fields[info]}"), console=console, transient=False)

    def __enter__(self) -> "Progressor":
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.stop()

    def task(self, description: str, total: float | None = None) -> Callable[..., None]:
        """A callback ``progress(advance, total=None, description=None, **fields)``; a
        ``loss=...`` keyword is shown beside the bar."""
        if self._progress is None:
            return lambda *a, **k: None
        task_id = self._progress.add_task(description, total=total, info="")

        def progress(advance=0, total=None, description=None, **fields):
            update = {"advance": advance}
            if total is not None:
                update["total"] = total
            if description is not None:
                update["description"] = description
            if fields:
                update["info"] = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                          for k, v in fields.items())
            self._progress.update(task_id, **update)

        return progress
