"""Stages and the stage runner: the ordered steps of ``dynode run`` and the hooks around them.

A run is an ordered list of named :class:`Stage` objects (:class:`Stages`). Each
stage declares how its input is taken from the run context (usually an earlier
stage's result) and how it runs. :class:`StageRunner` calls ``before_stage``
with that input, runs the stage, applies every ``after_stage`` replacement in
call order, keeps the final result in ``ctx.results`` and records wall time and
peak memory. A later feature (or a plugin, through the ``add_stages`` hook)
adds a step with :meth:`Stages.add`, without touching the others.

A stage owns its settings: the :class:`StageOption` objects it declares become ``dynode
run`` flags, keys of its ``[stages.NAME]`` table in ``config.toml`` and batch manifest
columns; ``active(settings)`` says whether a run includes it, ``prepare(ctx)`` checks
and builds what it needs before the run folder exists, and ``metrics(ctx)`` adds its
section to ``metrics.json`` (the pytest ``pytest_addoption`` pattern: the option, the
check and the behaviour next to each other).
"""

from __future__ import annotations

import resource
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from ..errors import InputError


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


#: The default stages' names, in run order (``tune`` only with ``--tune``). Later
#: stages and plugins read earlier results as ``ctx.results[INVERT]`` and so on.
READ, ALIGN, INVERT, TUNE, FIT = "read", "align", "invert", "tune", "fit"
INTERPOLATE, EDIT, RENDER, WRITE = "interpolate", "edit", "render", "write"
TEMPORAL = "temporal"
DEFAULT_STAGE_NAMES = (READ, ALIGN, INVERT, TUNE, FIT, INTERPOLATE, EDIT, RENDER, WRITE,
                       TEMPORAL)

_KINDS = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


@dataclass(frozen=True)
class StageOption:
    """A setting a stage takes from the user.

    ``name`` is the setting's key (unique in a run: ``tune_steps``); it is the
    ``dynode run`` flag with ``-`` for ``_`` (``--tune-steps``; a ``bool`` gets
    ``--NAME/--no-NAME``), the key in the stage's ``[stages.STAGE]`` table of
    ``config.toml`` and a batch manifest column. ``kind`` is ``bool``, ``int``,
    ``float`` or ``str``; ``default`` applies when the user gives nothing (``None``:
    unset). Numbers must be finite and within ``minimum``/``maximum``; a string
    within ``choices`` when those are given, or a registered name of the ``component``
    kind (``"tuners"``) when that is given.
    """

    name: str
    kind: type = str
    default: Any = None
    help: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None
    component: str | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def check(self, value: Any, where: str = "") -> Any:
        """``value`` converted to ``kind`` (an int for a float), or a one-line
        :class:`InputError` naming the setting, the value and what is valid (numbers
        through :func:`dynode_core.check_number`, the one validator of numbers)."""
        if value is None:
            return None
        kind = self.kind
        if kind in (int, float):
            from ..validate import CEILING, check_number

            value = check_number(self.name, value, kind=kind, minimum=self.minimum,
                                 maximum=CEILING if self.maximum is None else self.maximum,
                                 where=where)
        elif not isinstance(value, kind):
            raise InputError(f"{where}setting {self.name} must be {_KINDS.get(kind, kind)}, "
                             f"got {value!r}")
        if self.choices is not None and value not in self.choices:
            raise InputError(f"{where}setting {self.name} must be one of "
                             f"{', '.join(self.choices)}, got {value!r}")
        if self.component is not None:
            from ..plugins import get_registry
            from ..registry import RegistryError

            try:
                value = get_registry().get(self.component, value).name
            except RegistryError as exc:
                raise InputError(f"{where}setting {self.name}: {exc}") from None
        return value


@dataclass(frozen=True)
class Stage:
    """One named step: ``run(ctx, data) -> result`` where ``data = take(ctx)``.

    ``take`` returns the stage's input from the run context, typically
    ``ctx.results["<earlier stage>"]``; hooks see exactly that value. ``save(ctx,
    result)``, when given, writes the final result (after the hooks' replacements)
    to the run folder.

    What the stage owns besides: ``options`` (its :class:`StageOption` settings, read in the
    run as ``ctx.settings[name]``); ``active(settings) -> bool`` (whether this run
    includes the stage; default: always); ``prepare(ctx)`` (the pre-flight check,
    called for every active stage before the run folder exists: it raises a one-line
    :class:`InputError` or stores what the stage will need in ``ctx``); ``metrics(ctx)
    -> dict | None`` (the stage's section of ``metrics.json``, under its name).
    """

    name: str
    run: Callable[[Any, Any], Any]
    take: Callable[[Any], Any] = lambda ctx: None
    save: Callable[[Any, Any], None] | None = None
    description: str = ""
    options: tuple[StageOption, ...] = ()
    active: Callable[[dict], bool] | None = None
    prepare: Callable[[Any], None] | None = None
    metrics: Callable[[Any], dict | None] | None = None

    def is_active(self, settings: dict) -> bool:
        return True if self.active is None else bool(self.active(settings))


def result_of(stage: str) -> Callable[[Any], Any]:
    """A ``take`` function: the (possibly replaced) result of an earlier ``stage``."""
    def take(ctx):
        return ctx.results[stage]

    take.__name__ = f"result_of_{stage}"
    return take


class Stages:
    """An ordered list of stages with unique names."""

    def __init__(self, stages=()) -> None:
        self._stages: list[Stage] = []
        for stage in stages:
            self.add(stage)

    def names(self) -> list[str]:
        return [s.name for s in self._stages]

    def _index(self, name: str) -> int:
        names = self.names()
        if name not in names:
            raise InputError(f"unknown stage {name!r}; valid stages: {', '.join(names)}")
        return names.index(name)

    def add(self, stage: Stage, *, after: str | None = None, before: str | None = None) -> None:
        """Insert ``stage`` after or before a named stage (default: at the end)."""
        if stage.name in self.names():
            raise InputError(f"stage {stage.name!r} is in the run already")
        if after is not None and before is not None:
            raise ValueError("give after or before, not both")
        index = len(self._stages)
        if after is not None:
            index = self._index(after) + 1
        elif before is not None:
            index = self._index(before)
        self._stages.insert(index, stage)

    def __iter__(self) -> Iterator[Stage]:
        return iter(list(self._stages))

    def get(self, name: str) -> Stage:
        return self._stages[self._index(name)]

    def options(self) -> dict[str, tuple[str, StageOption]]:
        """Every declared option by name, with the stage that owns it; a name declared
        twice is an error naming both stages."""
        found: dict[str, tuple[str, StageOption]] = {}
        for stage in self._stages:
            for option in stage.options:
                if option.name in found:
                    raise InputError(f"setting {option.name!r} is declared by stages "
                                     f"{found[option.name][0]!r} and {stage.name!r}")
                found[option.name] = (stage.name, option)
        return found

    def settings(self, given: dict, where: str = "") -> dict:
        """Every declared option's value: the one ``given`` (checked) or its default.
        A key no stage declares is a one-line error listing the valid ones."""
        options = self.options()
        unknown = sorted(set(given) - set(options))
        if unknown:
            raise InputError(f"{where}unknown stage settings {', '.join(unknown)}; the run's "
                             f"stages take: {', '.join(sorted(options)) or '(none)'}")
        return {name: option.check(given[name], where) if name in given else option.default
                for name, (_, option) in options.items()}

    def owners(self, values: dict) -> dict[str, dict]:
        """``values`` (setting -> value) grouped by the stage that owns each setting."""
        options, grouped = self.options(), {}
        for name, value in values.items():
            grouped.setdefault(options[name][0], {})[name] = value
        return grouped

    def __len__(self) -> int:
        return len(self._stages)


class StageRunner:
    """Runs stages through the plugin manager's pipeline hooks."""

    def __init__(self, plugin_manager=None) -> None:
        if plugin_manager is None:
            from ..plugins import get_plugin_manager

            plugin_manager = get_plugin_manager()
        self.pm = plugin_manager

    def run(self, stage: Stage, ctx) -> Any:
        """Run one stage on ``ctx``; returns (and stores) its possibly replaced result."""
        from ..plugins import call_hooks

        data = stage.take(ctx)
        call_hooks(self.pm, "before_stage", stage=stage.name, data=data, context=ctx)
        start = time.perf_counter()
        result = stage.run(ctx, data)
        seconds = time.perf_counter() - start
        result = self.after(stage.name, result, ctx)
        ctx.results[stage.name] = result
        if stage.save is not None:
            start = time.perf_counter()
            stage.save(ctx, result)
            seconds += time.perf_counter() - start
        ctx.stages[stage.name] = {"seconds": round(seconds, 4),
                                  "peak_rss_mb": round(peak_rss_mb(), 1)}
        return result

    def after(self, stage: str, result: Any, context) -> Any:
        """Apply ``after_stage`` implementations in call order, chaining replacements; an
        error inside one names its plugin."""
        from ..plugins import call_hook

        infos = getattr(self.pm, "infos", {})
        for impl in reversed(self.pm.hook.after_stage.get_hookimpls()):
            replacement = call_hook(impl, "after_stage", infos.get(impl.plugin_name),
                                    stage=stage, result=result, context=context)
            if replacement is not None:
                result = replacement
        return result

    def run_all(self, stages: Stages, ctx) -> None:
        """Run every stage that is active for the run's settings, in order."""
        for stage in stages:
            if stage.active is None or stage.is_active(ctx.settings):
                self.run(stage, ctx)
