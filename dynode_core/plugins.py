"""The plugin manager: bundled defaults, entry points, environment switches, listing.

Loading order: the bundled plugins in :data:`DEFAULT_PLUGINS`, then the
``dynode`` entry-point group (unless ``DYNODE_DISABLE_PLUGIN_AUTOLOAD`` is set),
then modules named in ``DYNODE_PLUGINS`` (comma separated).
``DYNODE_DISABLE_PLUGINS=a,b`` blocks plugins by the names ``dynode plugins``
shows. A plugin that fails to import is reported in one warning line and marked
``failed``; ``DYNODE_STRICT_PLUGINS=1`` re-raises instead.
"""

from __future__ import annotations

import importlib
import os
import sys
import warnings
from dataclasses import dataclass, field
from importlib import metadata

import pluggy

from . import hookspecs
from .errors import DynodeError, PluginError
from .registry import KINDS, Component, Registry

#: Bundled plugins, loaded first, by import name.
DEFAULT_PLUGINS = (
    "dynode_video",
    "dynode_stylegan2",
    "dynode_stylegan3",
    "dynode_dynamics",
    "dynode_shapes",
    "dynode_editors",
    "dynode_inversion",
    "dynode_executors",
    "dynode_faces",
    "dynode_tuning",
)

ENTRY_POINT_GROUP = "dynode"


class PluginLoadWarning(UserWarning):
    pass


@dataclass
class PluginInfo:
    """What ``dynode plugins`` shows about one plugin."""

    name: str
    version: str | None
    source: str  # bundled | entry point | env
    distribution: str | None = None
    status: str = "active"  # active | blocked | failed
    error: str | None = None
    provides: dict[str, list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "version": self.version,
            "source": self.source,
            "distribution": self.distribution,
            "status": self.status,
            "error": self.error,
            "provides": self.provides,
        }


def _env_list(var: str) -> list[str]:
    return [item.strip() for item in os.environ.get(var, "").split(",") if item.strip()]


def _strict() -> bool:
    return os.environ.get("DYNODE_STRICT_PLUGINS", "") not in ("", "0", "false", "no")


def _distribution_of(module_name: str) -> tuple[str | None, str | None]:
    """(distribution name, version) that installed a module, if any."""
    top = module_name.split(".")[0]
    for dist in metadata.packages_distributions().get(top, []):
        try:
            return dist, metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return None, None


class DynodePluginManager(pluggy.PluginManager):
    """A pluggy manager that remembers each plugin's source, version and status."""

    def __init__(self) -> None:
        super().__init__("dynode")
        self.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}
        self._registry: Registry | None = None

    # -- loading ---------------------------------------------------------------
    def _record(self, info: PluginInfo) -> PluginInfo:
        self.infos[info.name] = info
        return info

    def _fail(self, info: PluginInfo, exc: BaseException) -> None:
        info.status, info.error = "failed", f"{type(exc).__name__}: {exc}"
        self._record(info)
        if _strict():
            raise PluginError(f"{describe(info.name, info)} failed to load: {info.error}") from exc
        version = f" {info.version}" if info.version else ""
        warnings.warn(
            f"dynode plugin '{info.name}'{version} failed to load: {info.error}",
            PluginLoadWarning,
            stacklevel=2,
        )

    def load_module(self, module_name: str, *, source: str, name: str | None = None,
                    version: str | None = None, distribution: str | None = None) -> None:
        name = name or module_name
        info = PluginInfo(name=name, version=version, source=source, distribution=distribution)
        if self.is_blocked(name):
            info.status = "blocked"
            self._record(info)
            return
        try:
            plugin = importlib.import_module(module_name)
            if info.version is None:
                info.distribution, dist_version = _distribution_of(module_name)
                info.version = getattr(plugin, "__version__", None) or dist_version
            self.register(plugin, name=name)
        except Exception as exc:  # noqa: BLE001 - reported per plugin
            self._fail(info, exc)
            return
        self._record(info)

    def load_entry_points(self) -> None:
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            dist = getattr(ep, "dist", None)
            info = PluginInfo(name=ep.name, version=dist.version if dist else None,
                              source="entry point",
                              distribution=dist.metadata["Name"] if dist else None)
            if self.is_blocked(ep.name) or self.get_plugin(ep.name) is not None:
                info.status = "blocked" if self.is_blocked(ep.name) else info.status
                if info.status == "blocked":
                    self._record(info)
                continue
            try:
                plugin = ep.load()
                self.register(plugin, name=ep.name)
            except Exception as exc:  # noqa: BLE001 - reported per plugin
                self._fail(info, exc)
                continue
            self._record(info)

    # -- registry --------------------------------------------------------------
    @property
    def registry(self) -> Registry:
        if self._registry is None:
            self._registry = build_registry(self)
        return self._registry

    def reset_registry(self) -> None:
        self._registry = None


def build_registry(pm: DynodePluginManager) -> Registry:
    """Call every registration hook plugin by plugin, recording provenance.

    Plugins are called in loading order (bundled, entry points, env), so a
    later plugin can override an earlier one's name with ``replace=True``.
    """
    registry = Registry()
    for kind in KINDS:
        caller = getattr(pm.hook, f"register_{kind}")
        for impl in caller.get_hookimpls():
            plugin_name = impl.plugin_name
            info = pm.infos.get(plugin_name)
            dist = info.distribution if info else None

            def register(name, factory, *, aliases=(), description="", replace=False,
                         _kind=kind, _plugin=plugin_name, _dist=dist, **meta):
                registry.add(
                    Component(kind=_kind, name=name, factory=factory, aliases=tuple(aliases),
                              description=description, meta=meta, plugin=_plugin,
                              distribution=_dist),
                    replace=replace,
                )
                if info is not None:
                    info.provides.setdefault(_kind, []).append(name)

            call_hook(impl, f"register_{kind}", info, register=register)
    return registry


def describe(plugin: str, info: "PluginInfo | None") -> str:
    """``plugin 'name' 1.0 (distribution)`` for messages."""
    version = f" {info.version}" if info and info.version else ""
    dist = f" ({info.distribution})" if info and info.distribution else ""
    return f"plugin '{plugin}'{version}{dist}"


def call_hook(impl, hook: str, info: "PluginInfo | None" = None, **kwargs):
    """Call one plugin's implementation of ``hook`` with the keywords it names; an error
    inside it (other than a message for users already) names the plugin and the hook."""
    try:
        return impl.function(**{k: kwargs[k] for k in impl.argnames if k in kwargs})
    except DynodeError:
        raise
    except Exception as exc:  # noqa: BLE001 - re-raised naming the plugin
        raise PluginError(f"{describe(impl.plugin_name, info)} failed in its {hook} hook: "
                          f"{type(exc).__name__}: {exc}") from exc


def call_hooks(pm, hook: str, **kwargs) -> list:
    """Every implementation of ``hook`` in call order (see :func:`call_hook`)."""
    infos = getattr(pm, "infos", {})
    return [call_hook(impl, hook, infos.get(impl.plugin_name), **kwargs)
            for impl in reversed(getattr(pm.hook, hook).get_hookimpls())]


def _core_version() -> str:
    from . import __version__

    return __version__


_manager: DynodePluginManager | None = None


def get_plugin_manager() -> DynodePluginManager:
    """The process-wide plugin manager, loading plugins on first use."""
    global _manager
    if _manager is None:
        _manager = load_plugins()
    return _manager


def load_plugins() -> DynodePluginManager:
    pm = DynodePluginManager()
    for name in _env_list("DYNODE_DISABLE_PLUGINS"):
        pm.set_blocked(name)
    for module_name in DEFAULT_PLUGINS:
        pm.load_module(module_name, source="bundled", version=_core_version(),
                       distribution="dynode-gan")
    if not os.environ.get("DYNODE_DISABLE_PLUGIN_AUTOLOAD"):
        pm.load_entry_points()
    for module_name in _env_list("DYNODE_PLUGINS"):
        if module_name in sys.modules and pm.is_registered(sys.modules[module_name]):
            continue
        pm.load_module(module_name, source="env")
    check_unknown_hooks(pm)
    return pm


def check_unknown_hooks(pm) -> None:
    """Report a hook implementation no spec knows (a misspelled ``add_stage``) in one
    warning naming the plugin, the hook and the nearest valid name; the plugin's other
    hooks keep working. ``DYNODE_STRICT_PLUGINS=1`` raises instead."""
    import difflib

    valid = [name for name in dir(pm.hook) if not name.startswith("_")
             and getattr(pm.hook, name).spec is not None]
    for name in dir(pm.hook):
        caller = getattr(pm.hook, name)
        if name.startswith("_") or caller.spec is not None:
            continue
        for impl in caller.get_hookimpls():
            if impl.optionalhook:
                continue
            near = difflib.get_close_matches(name, valid, n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            message = (f"{describe(impl.plugin_name, pm.infos.get(impl.plugin_name))} "
                       f"implements unknown hook {name!r}, which is never called{hint}")
            if _strict():
                raise PluginError(message)
            warnings.warn(message, PluginLoadWarning, stacklevel=2)


def reset_plugin_manager() -> None:
    """Forget the loaded plugins (tests, or after changing environment switches)."""
    global _manager
    _manager = None


def get_registry() -> Registry:
    return get_plugin_manager().registry


def get(kind: str, name: str) -> Component:
    return get_registry().get(kind, name)


def plugin_infos() -> list[PluginInfo]:
    pm = get_plugin_manager()
    pm.registry  # noqa: B018 - fills PluginInfo.provides
    return list(pm.infos.values())
