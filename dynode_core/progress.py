"""Progress a person can read, behind the plain ``progress(advance, total=None,
description=None, **fields)`` callback that components receive (see
:data:`dynode_core.interfaces.Progress`).

One :class:`Progressor` serves a whole command. Every step (a *task*) shows the same
facts: its name, count/total, rate and time left, plus any ``loss=...`` a component
reports. Where they go depends on stderr:

- a terminal: one live line per task, redrawn in place; when the terminal is narrow the
  bar goes first, then the elapsed time, then the extra fields, so that at 80 columns
  the name, count, rate and ETA always show in full;
- not a terminal (CI, ``nohup``, a pipe into a log): a plain line when a task starts,
  then every :data:`PLAIN_SECONDS` seconds or :data:`PLAIN_FRACTION` of the total,
  and when it ends;
- disabled (``--quiet``, ``--json``): nothing is printed, but the counts are still kept,
  so that an interrupted command can say what it finished (:func:`finished_summary`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

#: Not on a terminal: a plain line at least this often while a task moves (seconds) ...
PLAIN_SECONDS = 10.0
#: ... and at every such fraction of a task's total.
PLAIN_FRACTION = 0.1
#: The bar's width bounds, in columns (it takes what the facts leave over).
BAR_MIN, BAR_MAX = 10, 40

#: The progressors of the current command, in the order they were made (a batch's own,
#: then each of its runs').
_made: list["Progressor"] = []


def clock(seconds: float | None) -> str:
    """``m:ss`` (or ``h:mm:ss``); ``?`` when unknown."""
    if seconds is None or seconds != seconds or seconds < 0 or seconds == float("inf"):
        return "?"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def per_second(rate: float | None) -> str:
    """A rate in steps per second, in at most 3 significant digits (``12.3/s``, ``4.5k/s``)."""
    if rate is None:
        return "-/s"
    for scale, suffix in ((1e6, "M"), (1e3, "k"), (1, "")):
        if rate >= scale * 0.9995 or scale == 1:
            value = rate / scale
            digits = 2 if value < 10 else 1 if value < 100 else 0
            return f"{value:.{digits}f}{suffix}/s"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.4g}"


@dataclass
class TaskState:
    """What one task has done so far; the facts every display mode shows."""

    description: str
    total: float | None = None
    completed: float = 0.0
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None
    fields: dict = field(default_factory=dict)
    printed_at: float = 0.0  # plain mode: when the last line was printed
    printed_fraction: float = -1.0  # plain mode: at which fraction of the total

    @property
    def finished(self) -> bool:
        return self.total is not None and self.completed >= self.total

    def elapsed(self, now: float | None = None) -> float:
        return (self.ended or now or time.monotonic()) - self.started

    def rate(self, now: float | None = None) -> float | None:
        """Steps per second over the task so far (None before the first step)."""
        elapsed = self.elapsed(now)
        return self.completed / elapsed if self.completed > 0 and elapsed > 0 else None

    def eta(self, now: float | None = None) -> float | None:
        rate = self.rate(now)
        if self.total is None or not rate:
            return None
        return max(0.0, (self.total - self.completed) / rate)

    def count(self) -> str:
        total = "?" if self.total is None else _number(self.total)
        return f"{_number(self.completed)}/{total}"

    def facts(self, now: float | None = None) -> list[tuple[str, str]]:
        """(kind, text) in the order shown; kinds name what narrow lines drop first."""
        rate = self.rate(now)
        out = [("name", self.description), ("count", self.count()), ("rate", per_second(rate))]
        if not self.finished:
            out.append(("eta", f"eta {clock(self.eta(now))}"))
        out.append(("elapsed", f"elapsed {clock(self.elapsed(now))}"))
        fields = dict(self.fields)  # a copy: the live display reads it from its own thread
        extra = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                         for k, v in fields.items())
        if extra:
            out.append(("fields", extra))
        return out


#: What narrow lines drop, first to last; the name, count, rate and ETA always stay.
DROP_ORDER = ("bar", "elapsed", "fields")


def _bar(task: TaskState, width: int) -> str:
    if task.total:
        filled = int(round(width * min(1.0, task.completed / task.total)))
        return "━" * filled + "─" * (width - filled)
    return "─" * width


def render_lines(tasks: list[TaskState], width: int, *, now: float | None = None) -> list[str]:
    """Every task as one line of at most ``width`` columns, in aligned columns; where
    the lines do not fit, the bar goes first, then the elapsed time, then the fields."""
    if not tasks:
        return []
    now = time.monotonic() if now is None else now
    rows = [dict(task.facts(now)) for task in tasks]
    kinds = ("name", "count", "rate", "eta", "elapsed", "fields")
    widths = {k: max(len(r.get(k, "")) for r in rows) for k in kinds}
    widths["name"] = min(widths["name"], max(8, width // 4))

    def line(task, row, kept, bar_width):
        cells = []
        for kind in kinds:
            if kind == "count" and "bar" in kept:
                cells.append(_bar(task, bar_width))
            if kind not in kept or not widths[kind]:
                continue
            text = row.get(kind, "")
            if kind == "name" and len(text) > widths["name"]:
                text = text[: widths["name"] - 1] + "…"
            cells.append(text.rjust(widths[kind]) if kind == "count" else
                         text if kind == "fields" else text.ljust(widths[kind]))
        return " ".join(cells).rstrip()

    kept = set(kinds) | {"bar"}
    for drop in (None, *DROP_ORDER):
        kept.discard(drop)
        longest = max(len(line(t, r, kept, BAR_MIN)) for t, r in zip(tasks, rows))
        if longest <= width:
            bar_width = min(BAR_MAX, BAR_MIN + width - longest)
            return [line(t, r, kept, bar_width) for t, r in zip(tasks, rows)]
    return [ln if len(ln) <= width else ln[: max(1, width - 1)] + "…"
            for ln in (line(t, r, kept, 0) for t, r in zip(tasks, rows))]


def render_line(task: TaskState, width: int, *, now: float | None = None) -> str:
    """One task as a line of at most ``width`` columns (see :func:`render_lines`)."""
    return render_lines([task], width, now=now)[0]


class _Lines:
    """A rich renderable: every task's line at the console's width."""

    def __init__(self, tasks: list[TaskState]) -> None:
        self.tasks = tasks

    def __rich_console__(self, console, options):
        from rich.text import Text

        for text in render_lines(self.tasks, options.max_width):
            yield Text(text, no_wrap=True, overflow="ellipsis")


class Progressor:
    """One progress display for a whole command; ``task()`` gives a callback per step.

    Disabled (``enabled=False``, e.g. ``--quiet`` or ``--json``) it prints nothing but
    still counts. ``console``: a :class:`rich.console.Console` (default: one on stderr);
    a console that is not a terminal gets plain lines instead of a live display.
    """

    def __init__(self, *, enabled: bool = True, console=None) -> None:
        self.enabled = enabled
        self.tasks: list[TaskState] = []
        self.console = None
        self._live = None
        if enabled:
            from rich.console import Console

            self.console = console if console is not None else Console(stderr=True)
        self.live = bool(enabled and self.console.is_terminal
                         and not self.console.is_dumb_terminal)
        _made.append(self)

    def __enter__(self) -> "Progressor":
        if self.live:
            from rich.live import Live

            self._live = Live(_Lines(self.tasks), console=self.console,
                              refresh_per_second=4, transient=False)
            self._live.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def task(self, description: str, total: float | None = None) -> Callable[..., None]:
        """A callback ``progress(advance, total=None, description=None, **fields)``;
        keywords such as ``loss=...`` are shown beside the count."""
        from .errors import begin_work

        begin_work()  # from here on, an error is a failure while working (exit 1)
        state = TaskState(description, total)
        self.tasks.append(state)
        self._plain(state, force=True)

        def progress(advance=0, total=None, description=None, **fields):
            state.completed += advance
            if total is not None:
                state.total = total
            if description is not None:
                state.description = description
            if fields:
                state.fields.update(fields)
            if state.finished and state.ended is None:
                state.ended = time.monotonic()
            self._plain(state, force=state.ended is not None and state.printed_fraction < 1)

        return progress

    def _plain(self, state: TaskState, *, force: bool = False) -> None:
        """Not on a terminal: a line at the start, every so often, and at the end."""
        if not self.enabled or self.live:
            return
        now = time.monotonic()
        fraction = state.completed / state.total if state.total else 0.0
        due = (now - state.printed_at >= PLAIN_SECONDS
               or fraction >= state.printed_fraction + PLAIN_FRACTION)
        if not (force or due):
            return
        state.printed_at, state.printed_fraction = now, (1.0 if state.finished else fraction)
        self.console.print(" ".join(text for _, text in state.facts(now)), markup=False,
                           highlight=False, soft_wrap=True)

    def summary(self) -> str:
        """What the tasks finished and where they stopped, in one line."""
        done = [f"{t.description} {t.count()}" for t in self.tasks if t.finished]
        open_ = [f"{t.description} {t.count()}" for t in self.tasks if not t.finished]
        parts = []
        if done:
            parts.append("finished " + ", ".join(done))
        if open_:
            parts.append("stopped in " + ", ".join(open_))
        return "; ".join(parts) or "no step had started"


def started_task(bar: Progressor, description: str) -> Callable[..., None]:
    """A callback that opens its task in ``bar`` on its first call, i.e. when the work
    has really begun (errors before it are still invalid invocations)."""
    task = None

    def progress(advance=0, **kwargs):
        nonlocal task
        if task is None:
            task = bar.task(description, kwargs.pop("total", None))
        task(advance, **kwargs)

    return progress


def finished_summary() -> str | None:
    """What the command's progressors finished, in one line: the first one's (the
    command's own) and, when the command made more, the latest one's (its current
    run); None when none was made."""
    if not _made:
        return None
    outer, latest = _made[0], _made[-1]
    return outer.summary() if latest is outer else f"{outer.summary()}; {latest.summary()}"


def reset() -> None:
    """Forget the progressors made so far (a new command begins)."""
    _made.clear()
