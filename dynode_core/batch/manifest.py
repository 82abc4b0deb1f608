"""A batch manifest: the videos of a ``dynode batch`` and their run settings.

TOML: top-level keys are shared defaults (any :class:`~dynode_core.RunConfig` field
but ``out``), then one ``[[video]]`` table per video with ``input``, an optional
``name`` (its run folder under ``--out``; default: from the input) and overrides::

    dynamics = "linear"
    interpolate = 2

    [[video]]
    input = "takes/a.mp4"
    edits = ["sefa:0:2.0"]

    [[video]]
    input = "world:circle:6"
    name = "circle"

Besides the RunConfig fields, a key may be any stage's setting (``tune``, ``tune_steps``,
``align``, ``face_index``, ``paste_back``, a plugin stage's option: the names ``dynode run
--help`` lists) and ``options``, the components' options (a TOML table
``options = {dynamics = {iterations = 100}}``, or in CSV ``dynamics.iterations=100;...``).

CSV: a header row (``input``, ``name`` and any field) and one row per video; an empty
cell keeps the default, ``edits`` are separated by ``;``. Lines before the header that
start with ``#`` hold the shared defaults in TOML syntax (``# dynamics = "linear"``).

The whole manifest is checked before anything runs: unknown keys, wrong types, missing
files, unknown component names, duplicate run names; every problem in one line.
Relative paths are relative to the manifest's folder.
"""

from __future__ import annotations

import csv
import io
import re
import sys
import typing
from dataclasses import dataclass
from pathlib import Path

from ..errors import DynodeError, InputError
from ..run import RunConfig

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: Keys a video may set beside the RunConfig fields and the stages' settings; keys
#: nobody may set (``stage_options`` and ``component_options`` are spelled as above).
EXTRA_KEYS = ("name", "options")
FORBIDDEN = {"out": "the batch puts each run in --out/NAME",
             "stage_options": "give each stage setting as its own key (tune = \"pti\")",
             "component_options": "give them as options = {KIND = {KEY = VALUE}}"}
#: Fields that name a registered component, and their kind.
COMPONENT_FIELDS = {"generator": "generators", "dynamics": "dynamics", "inverter": "inverters"}
PATH_FIELDS = ("input", "checkpoint")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
#: Names of what the batch itself writes in its folder: no video's run folder takes one.
RESERVED = {"batch.json", "index.html", "thumbnails", ".dynode-batch.lock"}


@dataclass(frozen=True)
class BatchEntry:
    """One video of a manifest: its run folder name and its complete run config."""

    name: str
    config: RunConfig


def _field_types() -> dict[str, object]:
    return typing.get_type_hints(RunConfig)


def _stage_options() -> dict:
    """Every stage's declared settings by name (the run's stages, plugins' included)."""
    from ..run import run_stages

    return {name: option for name, (_, option) in run_stages().options().items()}


def _component_options(value) -> dict:
    """The ``options`` key: a TOML table, or CSV text ``KIND.KEY=VALUE;...``."""
    from ..run import check_component_options, parse_component_options

    if isinstance(value, str):
        return parse_component_options([p.strip() for p in value.split(";") if p.strip()])
    return check_component_options(value)


def _type_name(tp) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _check_type(key: str, value, tp):
    """``value`` if it fits the field type ``tp`` (int for float allowed), else raise."""
    args = typing.get_args(tp)
    if type(None) in args:
        if value is None:
            return value
        tp = next(a for a in args if a is not type(None))
    origin = typing.get_origin(tp)
    if origin is list:
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
        raise InputError(f"{key} must be a list of strings, got {value!r}")
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if tp in (int, str, bool) and isinstance(value, tp) and not (tp is int and
                                                                  isinstance(value, bool)):
        return value
    raise InputError(f"{key} must be {_type_name(tp)}, got {value!r}")


def _from_text(key: str, text: str, tp):
    """A CSV cell converted to the field's type."""
    args = [a for a in typing.get_args(tp) if a is not type(None)] or [tp]
    base = args[0] if typing.get_origin(tp) is not list else tp
    try:
        if typing.get_origin(base) is list:
            return [part.strip() for part in text.split(";") if part.strip()]
        if base is bool:
            lowered = text.strip().lower()
            if lowered not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(text)
            return lowered in ("true", "1", "yes")
        return base(text.strip())
    except ValueError:
        raise InputError(f"{key} must be {_type_name(base)}, got {text!r}") from None


def _load_toml(path: Path) -> tuple[dict, list[dict]]:
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path} is not valid TOML: {exc}") from None
    videos = doc.pop("video", None)
    if not isinstance(videos, list) or not all(isinstance(v, dict) for v in videos):
        raise InputError(f"{path}: list the videos as [[video]] tables (input = \"...\")")
    return doc, videos


def _load_csv(path: Path) -> tuple[dict, list[dict]]:
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()  # a BOM, as Excel writes
    except UnicodeDecodeError as exc:
        raise InputError(f"{path} is not UTF-8 text: {exc}") from None
    head = [line[1:] for line in lines if line.startswith("#")]
    body = [line for line in lines if not line.startswith("#") and line.strip()]
    try:
        defaults = tomllib.loads("\n".join(head))
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: the '#' defaults are not valid TOML: {exc}") from None
    rows = list(csv.DictReader(io.StringIO("\n".join(body))))
    if not rows:
        raise InputError(f"{path}: no videos (a header row with 'input', then one row each)")
    types, staged = _field_types(), _stage_options()
    types.update({name: option.kind | None for name, option in staged.items()})
    videos = []
    for row in rows:
        if None in row:
            raise InputError(f"{path}: a row has more cells than the header: {row[None]}")
        videos.append({key: (_from_text(key, text, types[key]) if key in types else text)
                       for key, text in row.items() if text is not None and text.strip()})
    return defaults, videos


def _default_name(config: RunConfig) -> str:
    from ..video import is_scheme_source

    source = config.source()
    stem = source if is_scheme_source(source) else Path(source).stem or Path(source).name
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-.") or "video"
    return f"{name}-video" if name.lower() in RESERVED else name


def _resolve_path(value: str, base: Path) -> str:
    from ..video import is_scheme_source

    if is_scheme_source(value) or Path(value).is_absolute():
        return value
    return str((base / value).resolve())


def _is_scheme(value: str) -> bool:
    from ..video import is_scheme_source

    return is_scheme_source(value)


def _check_components(config: RunConfig) -> None:
    from ..edits import parse_edit
    from ..plugins import get_registry

    registry = get_registry()
    for key, kind in COMPONENT_FIELDS.items():
        value = getattr(config, key, None)
        if value is not None:
            registry.get(kind, value)
    for edit in config.edits:
        registry.get("editors", parse_edit(edit).editor)


def _entry(raw: dict, defaults: dict, base: Path) -> BatchEntry:
    types, staged = _field_types(), _stage_options()
    merged = {**defaults, **raw}
    for key, why in FORBIDDEN.items():
        if key in merged:
            raise InputError(f"'{key}' cannot be set in a manifest: {why}")
    unknown = sorted(set(merged) - set(types) - set(staged) - set(EXTRA_KEYS))
    if unknown:
        valid = sorted((set(types) | set(staged) | set(EXTRA_KEYS)) - set(FORBIDDEN))
        raise InputError(f"unknown key {', '.join(unknown)}; valid keys: {', '.join(valid)}")
    name = merged.pop("name", None)
    component_options = _component_options(merged.pop("options", {}))
    stage_options = {key: staged[key].check(merged.pop(key)) for key in list(merged)
                     if key in staged}
    options = {key: _check_type(key, value, types[key]) for key, value in merged.items()}
    for key in PATH_FIELDS:
        if options.get(key):
            options[key] = _resolve_path(options[key], base)
            if not Path(options[key]).exists() and not _is_scheme(options[key]):
                raise InputError(f"{key} {options[key]} does not exist")
    config = RunConfig(**options, stage_options=stage_options,
                       component_options=component_options)
    _check_components(config)
    name = _default_name(config) if name is None else name
    if not isinstance(name, str) or not NAME.match(name):
        raise InputError(f"name must be a folder name ([A-Za-z0-9._-]), got {name!r}")
    if name.lower() in RESERVED:
        raise InputError(f"name {name!r} is one of the batch's own files "
                         f"({', '.join(sorted(RESERVED))}); choose another")
    return BatchEntry(name, config)


def read_manifest(path) -> list[BatchEntry]:
    """The videos of a TOML or CSV manifest, each with its full :class:`RunConfig`
    (``out`` is set by the batch); every problem is raised as one :class:`InputError`."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no such manifest: {path}")
    loader = {".toml": _load_toml, ".csv": _load_csv}.get(path.suffix.lower())
    if loader is None:
        raise InputError(f"{path}: a manifest is a .toml or .csv file")
    defaults, videos = loader(path)
    for key in ("input", "name"):
        if key in defaults:
            raise InputError(f"{path}: '{key}' is set per video, not in the shared defaults")
    if not videos:
        raise InputError(f"{path}: the manifest lists no videos")
    entries, problems, seen = [], [], {}
    for number, raw in enumerate(videos, 1):
        try:
            entry = _entry(raw, defaults, path.parent)
        except (DynodeError, TypeError) as exc:
            problems.append(f"video {number} ({raw.get('input', 'no input')}): {exc}")
            continue
        entries.append(entry)
        if entry.name in seen:
            problems.append(f"videos {seen[entry.name]} and {number} both run in "
                            f"'{entry.name}'; give one a name = \"...\"")
        seen.setdefault(entry.name, number)
    if problems:
        raise InputError(f"{path}: " + "; ".join(problems))
    return entries

