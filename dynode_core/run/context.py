"""The run context: what every stage of one ``dynode run`` reads, in one object."""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Iterator


@dataclass(eq=False)
class RunContext(MutableMapping):
    """One run's shared state.

    Stages read their settings and services from it (``ctx.config``,
    ``ctx.folder``, ``ctx.device``, ``ctx.generator``, ``ctx.progress``,
    ``ctx.resume``, ``ctx.info``, ``ctx.targets``: the input's frames as the
    generator sees them, for the reconstruction metric; ``ctx.inverter`` and
    ``ctx.edits``, built and resolved by the checks before the first stage;
    ``ctx.settings``: every stage's declared settings, given or default), and every
    stage's result (after the ``after_stage`` hooks) is kept in ``ctx.results[stage]``;
    ``ctx.stages`` holds the time and peak memory of each stage. What a stage's
    ``prepare`` builds for it is stored under its own key (``ctx["tuner"]``).

    ``ctx.generator`` is the run's generator; a worker that runs many videos may hand
    the same loaded one to each run, so a stage that changes its weights replaces it by
    its own copy first (the ``tune`` stage does).

    It is also the ``context`` that the pipeline hooks receive: a mutable
    mapping whose keys are the fields above plus any key a plugin stores
    (``context.setdefault("mine", [])``).
    """

    config: Any
    folder: Path
    device: str
    generator: Any
    progress: Any
    resume: bool = False
    info: Any = None
    targets: Any = None
    inverter: Any = None
    settings: dict[str, Any] = field(default_factory=dict)
    edits: dict[str, Any] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    stages: dict[str, dict] = field(default_factory=dict)
    store: dict[str, Any] = field(default_factory=dict)

    def _fields(self) -> tuple[str, ...]:
        return tuple(f.name for f in fields(self) if f.name != "store")

    def __getitem__(self, key: str) -> Any:
        if key in self._fields():
            return getattr(self, key)
        return self.store[key]

    def __setitem__(self, key: str, value: Any) -> None:
        if key in self._fields():
            setattr(self, key, value)
        else:
            self.store[key] = value

    def __delitem__(self, key: str) -> None:
        if key in self._fields():
            raise KeyError(f"{key!r} is part of the run context and cannot be removed")
        del self.store[key]

    def __iter__(self) -> Iterator[str]:
        yield from self._fields()
        yield from self.store

    def __len__(self) -> int:
        return len(self._fields()) + len(self.store)
