"""Named components by kind: validation, conflicts, lookup errors and provenance.

Plugins never touch a :class:`Registry` directly: they receive a ``register``
callback from a registration hook (see :mod:`dynode_core.hookspecs`), which
records the component together with the plugin and distribution that provided it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

from .errors import ComponentError, DynodeError, RegistryError

#: Every kind of component, in the order ``dynode list`` shows them.
KINDS = (
    "generators",
    "encoders",
    "inverters",
    "dynamics",
    "editors",
    "aligners",
    "video_readers",
    "video_writers",
    "metrics",
    "executors",
    "tuners",
)

#: How an error message names one component of each kind.
SINGULAR = {"generators": "generator", "encoders": "encoder", "inverters": "inverter",
            "dynamics": "dynamics model", "editors": "editor", "aligners": "aligner",
            "video_readers": "video reader",
            "video_writers": "video writer", "metrics": "metric",
            "executors": "executor", "tuners": "tuner"}

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


class InvalidNameError(RegistryError, ValueError):
    pass


class ComponentConflictError(RegistryError, ValueError):
    invalid_invocation = False  # two plugins, one name: not the user's command (exit 1)


class UnknownComponentError(RegistryError, LookupError):
    pass


@dataclass(frozen=True)
class Component:
    """One registered component: a factory plus where it came from."""

    kind: str
    name: str
    factory: Callable[..., Any]
    aliases: tuple[str, ...] = ()
    description: str = ""
    meta: dict = field(default_factory=dict)
    plugin: str = "?"
    distribution: str | None = None

    @property
    def provider(self) -> str:
        dist = f" ({self.distribution})" if self.distribution else ""
        return f"plugin '{self.plugin}'{dist}"

    def create(self, **kwargs):
        """Call the factory; unexpected errors raised inside name the component and plugin
        (a :class:`DynodeError` is already a message for users and passes as it is)."""
        try:
            return self.factory(**kwargs)
        except (RegistryError, ComponentError, DynodeError):
            raise  # already a message for users
        except Exception as exc:  # noqa: BLE001 - re-raised with context
            raise ComponentError(
                f"{SINGULAR.get(self.kind, self.kind)} "
                f"'{self.name}' from {self.provider} failed: {exc}"
            ) from exc


def lazy(target: str) -> Callable[..., Any]:
    """A factory for ``"package.module:attribute"`` that imports the module only when
    called, so registering a component loads nothing heavy::

        register("sefa", lazy("my_dynode_plugin.sefa:SefaEditor"))
    """
    module_name, sep, attribute = target.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"lazy() needs 'module:attribute', got {target!r}")

    def factory(**options):
        import importlib

        return getattr(importlib.import_module(module_name), attribute)(**options)

    factory.__name__ = attribute
    factory.__qualname__ = f"lazy({target})"
    factory.__doc__ = f"Import {module_name} and call {attribute}(**options)."
    return factory


def validate_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise InvalidNameError(
            f"invalid component name {name!r}: use lowercase letters, digits, '.', '_' and '-',"
            " starting with a letter or digit"
        )
    return name


class Registry:
    """Components by kind and name (aliases resolve to their component)."""

    def __init__(self) -> None:
        self._items: dict[str, dict[str, Component]] = {k: {} for k in KINDS}
        self._aliases: dict[str, dict[str, str]] = {k: {} for k in KINDS}

    def _check_kind(self, kind: str) -> None:
        if kind not in self._items:
            raise UnknownComponentError(
                f"unknown component kind {kind!r}; valid kinds: {', '.join(KINDS)}"
            )

    def add(self, component: Component, *, replace: bool = False) -> Component:
        kind = component.kind
        self._check_kind(kind)
        for name in (component.name, *component.aliases):
            validate_name(name)
            existing = self._lookup(kind, name)
            if existing is not None and not replace and existing is not component:
                raise ComponentConflictError(
                    f"{kind} name '{name}' is registered twice: by {existing.provider} "
                    f"and by {component.provider}; disable one of them with "
                    f"DYNODE_DISABLE_PLUGINS or pass replace=True"
                )
        if replace:
            old = self._lookup(kind, component.name)
            if old is not None:
                self._remove(old)
        self._items[kind][component.name] = component
        for alias in component.aliases:
            self._aliases[kind][alias] = component.name
        return component

    def _remove(self, component: Component) -> None:
        self._items[component.kind].pop(component.name, None)
        for alias in component.aliases:
            self._aliases[component.kind].pop(alias, None)

    def _lookup(self, kind: str, name: str) -> Component | None:
        name = self._aliases[kind].get(name, name)
        return self._items[kind].get(name)

    def get(self, kind: str, name: str) -> Component:
        self._check_kind(kind)
        found = self._lookup(kind, name)
        if found is None:
            valid = ", ".join(self.names(kind)) or "(none registered)"
            raise UnknownComponentError(f"unknown {kind} name {name!r}; valid names: {valid}")
        return found

    def create(self, kind: str, name: str, **kwargs):
        return self.get(kind, name).create(**kwargs)

    def names(self, kind: str, *, aliases: bool = False) -> list[str]:
        self._check_kind(kind)
        names = list(self._items[kind])
        if aliases:
            names += list(self._aliases[kind])
        return sorted(names)

    def components(self, kind: str | None = None) -> list[Component]:
        kinds = KINDS if kind is None else (kind,)
        out: list[Component] = []
        for k in kinds:
            self._check_kind(k)
            out += [self._items[k][n] for n in sorted(self._items[k])]
        return out

    def __contains__(self, key: tuple[str, str]) -> bool:
        kind, name = key
        return kind in self._items and self._lookup(kind, name) is not None
