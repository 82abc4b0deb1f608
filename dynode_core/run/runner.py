"""Stages and the stage runner: the ordered steps of ``dynode run`` and the hooks around them.

A run is an ordered list of named :class:`Stage` objects (:class:`Stages`). Each
stage declares how its input is taken from the run context (usually an earlier
stage's result) and how it runs. :class:`StageRunner` calls ``before_stage``
with that input, runs the stage, applies every ``after_stage`` replacement in
call order, keeps the final result in ``ctx.results`` and records wall time and
peak memory. A later feature (or a plugin, through the ``add_stages`` hook)
adds a step with :meth:`Stages.add`, without touching the others.
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


@dataclass(frozen=True)
class Stage:
    """One named step: ``run(ctx, data) -> result`` where ``data = take(ctx)``.

    ``take`` returns the stage's input from the run context, typically
    ``ctx.results["<earlier stage>"]``; hooks see exactly that value. ``save(ctx,
    result)``, when given, writes the final result (after the hooks' replacements)
    to the run folder.
    """

    name: str
    run: Callable[[Any, Any], Any]
    take: Callable[[Any], Any] = lambda ctx: None
    save: Callable[[Any, Any], None] | None = None
    description: str = ""


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
        for stage in stages:
            self.run(stage, ctx)
