"""What ``dynode list`` shows of each component: its plugin, the distribution that
installed it, and the optional extra it needs and whether that extra is installed.

A component names its extra when it registers (``register(..., extra="faces")``);
whether the extra is installed is read from the distribution's own metadata
(``importlib.metadata``): every requirement that the extra adds must be installed
at a version it allows.
"""

from __future__ import annotations

import functools
from importlib import metadata


@functools.lru_cache(maxsize=None)
def distribution_of(module_name: str) -> str | None:
    """The installed distribution that provides the top-level package of ``module_name``."""
    top = module_name.split(".")[0]
    for dist in metadata.packages_distributions().get(top, []):
        try:
            return metadata.metadata(dist)["Name"]
        except metadata.PackageNotFoundError:
            continue
    return None


@functools.lru_cache(maxsize=None)
def missing_for_extra(distribution: str, extra: str) -> tuple[str, ...] | None:
    """The requirements of ``distribution[extra]`` that are not installed (empty: the
    extra is installed); None when the distribution declares no such extra."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    try:
        dist = metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        return None
    declared = {canonicalize_name(e) for e in dist.metadata.get_all("Provides-Extra") or []}
    if canonicalize_name(extra) not in declared:
        return None
    missing = []
    for text in dist.requires or []:
        req = Requirement(text)
        if req.marker is None or not req.marker.evaluate({"extra": extra}):
            continue
        if req.marker.evaluate({"extra": ""}):
            continue  # a base requirement (or one gated on the platform only)
        try:
            version = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            missing.append(req.name)
            continue
        if req.specifier and not req.specifier.contains(version, prereleases=True):
            missing.append(f"{req.name} {version} (needs {req.specifier})")
    return tuple(missing)


def _plugin_module(pm, plugin_name: str) -> str | None:
    plugin = pm.get_plugin(plugin_name) if pm is not None else None
    if plugin is None:
        return None
    name = getattr(plugin, "__name__", None) or type(plugin).__module__
    return name if isinstance(name, str) else None


def extra_state(distribution: str | None, extra: str | None) -> str:
    """``faces: installed``, ``faces: missing dlib-bin, ...``, or ``-`` without an extra."""
    if not extra:
        return "-"
    missing = missing_for_extra(distribution, extra) if distribution else None
    if missing is None:
        return f"{extra}: unknown"
    return f"{extra}: installed" if not missing else f"{extra}: missing {', '.join(missing)}"


def component_rows(kind: str | None = None) -> list[dict]:
    """One dict per registered component (of ``kind``, or of every kind)."""
    from .plugins import get_plugin_manager, get_registry

    pm = get_plugin_manager()
    rows = []
    for c in get_registry().components(kind):
        module = _plugin_module(pm, c.plugin)
        distribution = (distribution_of(module) if module else None) or c.distribution
        extra = c.meta.get("extra")
        missing = missing_for_extra(distribution, extra) if extra and distribution else None
        rows.append({"kind": c.kind, "name": c.name, "aliases": list(c.aliases),
                     "description": c.description, "plugin": c.plugin,
                     "distribution": distribution, "extra": extra,
                     "extra_installed": None if missing is None else not missing,
                     "extra_state": extra_state(distribution, extra)})
    return rows


def component_table(rows: list[dict]):
    """A rich table of ``rows``; every text is shown literally (``[faces]`` included)."""
    from rich.markup import escape
    from rich.table import Table

    table = Table("kind", "name", "plugin", "distribution", "extra", "description")
    for row in rows:
        table.add_row(*(escape(str(row[key] or "-")) for key in
                        ("kind", "name", "plugin", "distribution", "extra_state",
                         "description")))
    return table
