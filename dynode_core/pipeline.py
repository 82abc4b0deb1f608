"""The stage runner: calls the pipeline hooks around every stage of a run.

A run is a sequence of named stages (``read``, ``invert``, ``fit``,
``interpolate``, ``edit``, ``render``, ``write``). :class:`StageRunner`
runs one stage's function, calling ``before_stage`` first and then every
``after_stage`` implementation in call order, each one seeing the previous
replacement; it records wall time and peak memory per stage.
"""

from __future__ import annotations

import resource
import sys
import time
from typing import Any, Callable

STAGES = ("read", "invert", "fit", "interpolate", "edit", "render", "write")


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


class StageRunner:
    """Runs stages through the plugin manager's pipeline hooks."""

    def __init__(self, plugin_manager=None, context: dict | None = None) -> None:
        if plugin_manager is None:
            from .plugins import get_plugin_manager

            plugin_manager = get_plugin_manager()
        self.pm = plugin_manager
        self.context: dict = {} if context is None else context
        self.context.setdefault("stages", {})

    def run(self, stage: str, func: Callable[[Any], Any], data: Any = None) -> Any:
        """Run ``func(data)`` as ``stage`` and return its (possibly replaced) result."""
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}; valid stages: {', '.join(STAGES)}")
        self.pm.hook.before_stage(stage=stage, data=data, context=self.context)
        start = time.perf_counter()
        result = func(data)
        seconds = time.perf_counter() - start
        result = self.after(stage, result)
        self.context["stages"][stage] = {"seconds": round(seconds, 4),
                                         "peak_rss_mb": round(peak_rss_mb(), 1)}
        return result

    def after(self, stage: str, result: Any) -> Any:
        """Apply ``after_stage`` implementations in call order, chaining replacements."""
        for impl in reversed(self.pm.hook.after_stage.get_hookimpls()):
            kwargs = {"stage": stage, "result": result, "context": self.context}
            replacement = impl.function(**{k: kwargs[k] for k in impl.argnames})
            if replacement is not None:
                result = replacement
        return result
