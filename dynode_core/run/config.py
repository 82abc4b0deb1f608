"""The configuration of a ``dynode run``: defaults, TOML in and out, validation."""

from __future__ import annotations

import dataclasses
import functools
import json
import sys
import types
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path

from .. import defaults
from ..errors import InputError
from ..compute import PRECISIONS, THREADS_RANGE
from ..validate import check_number

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CONFIG_FORMAT = "dynode.run/2"
#: Earlier format: stage settings were keys of ``[run]`` (read, never written).
LEGACY_FORMATS = ("dynode.run/1",)
LEGACY_STAGE_KEYS = ("align", "face_index", "paste_back", "tune", "tune_steps")
#: The numeric settings of a run: (kind, minimum, maximum). The one table the checks,
#: ``config.toml``, manifests and the ``dynode run`` flags use.
NUMBERS = {
    "inversion_steps": (int, 0, 1_000_000),
    "interpolate": (int, 1, 1_000_000_000),  # the output-size checks bound the frames
    "extrapolate": (float, 0, 1_000_000_000),  # seconds
    "max_frames": (int, 2, 100_000_000),
    "demo_frames": (int, 2, 100_000),
    "fps": (float, 0.001, 10_000),
    "seed": (int, 0, 2**32 - 1),
    "batch_size": (int, 1, 4_096),
    "max_output_frames": (int, 1, 10**15),
    "threads": THREADS_RANGE,
}
#: Components whose factories take options from ``-o KIND.KEY=VALUE`` / ``[options.KIND]``.
OPTION_KINDS = ("generator", "inverter", "dynamics", "tuner")


@dataclass(init=False)
class RunConfig:
    """Everything that determines a run; ``config.toml`` in a run folder reproduces it.

    The fields below are the core's settings. A stage's own settings (``tune``,
    ``align``, a plugin stage's option ...) are declared by the stage and kept in
    ``stage_options``; they may be given as keywords too: ``RunConfig(tune="pti")``
    is ``RunConfig(stage_options={"tune": "pti"})``. ``component_options`` holds
    options for the components' factories: ``{"dynamics": {"iterations": 100}}``.
    Stage settings and component options are checked when the run starts, against the
    stages and components it has (before any work).
    """

    input: str | None = None  # a video, GIF or frame folder; None renders a world clip
    generator: str = defaults.GENERATOR
    checkpoint: str | None = None
    encoder: str | None = None  # a registered encoder name or a file; None: the generator's
    inverter: str | None = None  # None: hybrid when an encoder exists, else optim
    inversion_steps: int | None = None
    dynamics: str = defaults.DYNAMICS
    interpolate: int = 4
    extrapolate: float = 0.0  # seconds past the last frame
    edits: list[str] = field(default_factory=list)
    propagate: str = "offset"  # dynamics propagation gains nothing measured (docs/editing.md)
    crop: str = "center"
    audio: bool = True  # the input's audio in every full-length output
    max_frames: int | None = None  # read at most this many frames of the input
    demo_motion: str = defaults.DEMO_MOTION  # world clip rendered when input is None
    demo_frames: int = defaults.DEMO_FRAMES
    fps: float | None = None  # frame rate for frame folders
    device: str = "auto"
    threads: int | None = None  # torch threads; None: $DYNODE_THREADS, else torch's default
    precision: str = "fp32"  # the generator's number format: fp32 or bf16 (where supported)
    seed: int = 0
    batch_size: int = 16
    gif: bool = False  # a bounded GIF preview beside every video
    max_output_frames: int | None = None  # None: 100,000 frames per output video
    out: str = "dynode-run"
    stage_options: dict = field(default_factory=dict)  # setting -> value, declared by stages
    component_options: dict = field(default_factory=dict)  # kind -> {option: value}

    def __init__(self, **settings) -> None:
        for f in fields(self):
            if f.name in settings:
                value = settings.pop(f.name)
            elif f.default_factory is not dataclasses.MISSING:
                value = f.default_factory()
            else:
                value = f.default
            setattr(self, f.name, value)
        if not isinstance(self.stage_options, dict):
            raise InputError(f"stage_options must be a table, got {self.stage_options!r}")
        self.stage_options = {**self.stage_options, **{k: v for k, v in settings.items()
                                                       if v is not None}}
        self.__post_init__()

    def __post_init__(self) -> None:
        check_types({f.name: getattr(self, f.name) for f in fields(self)})
        for name, (kind, minimum, maximum) in NUMBERS.items():
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, check_number(name, value, kind=kind, minimum=minimum,
                                                 maximum=maximum))
        if self.crop not in ("center", "none"):
            raise InputError(f"--crop must be 'center' or 'none', got {self.crop!r}")
        if self.precision not in PRECISIONS:
            raise InputError(f"--precision must be one of {', '.join(PRECISIONS)}, "
                             f"got {self.precision!r}")
        self.edits = list(self.edits)
        self.component_options = check_component_options(self.component_options)

    def source(self) -> str:
        """The input this config names (the demo clip when it names none)."""
        return str(self.input or defaults.demo_source(self.demo_motion, self.demo_frames))

    # ---------------------------------------------------------------- TOML
    def to_toml(self, stages=None) -> str:
        """``config.toml``: the core settings in ``[run]``, each stage's settings in its
        ``[stages.NAME]`` table (grouped by ``stages``, the run's :class:`Stages`; one
        ``[stages]`` table without them) and component options in ``[options.KIND]``."""
        import tomli_w

        core = {k: v for k, v in dataclasses.asdict(self).items()
                if v is not None and k not in ("stage_options", "component_options")}
        doc = {"format": CONFIG_FORMAT, "run": core}
        given = {k: v for k, v in self.stage_options.items() if v is not None}
        if given:
            doc["stages"] = stages.owners(given) if stages is not None else given
        if self.component_options:
            doc["options"] = self.component_options
        return tomli_w.dumps(doc)

    @classmethod
    def from_toml(cls, path, **overrides) -> "RunConfig":
        """Read ``config.toml``; ``overrides`` (e.g. from the command line) win."""
        path = Path(path)
        try:
            doc = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise InputError(f"no such config file: {path}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"{path} is not valid TOML: {exc}") from None
        fmt = doc.get("format")
        if fmt != CONFIG_FORMAT and fmt not in LEGACY_FORMATS:
            raise InputError(f"{path}: format {fmt!r} is not {CONFIG_FORMAT!r}")
        extra = sorted(set(doc) - {"format", "run", "stages", "options"})
        if extra:
            raise InputError(f"{path}: unknown tables {', '.join(extra)}; a run config has "
                             "[run], [stages.NAME] and [options.KIND]")
        data = dict(doc.get("run", {}))
        core = {f.name for f in fields(cls)} - {"stage_options", "component_options"}
        staged = flat_stage_settings(doc.get("stages", {}), path)
        if fmt in LEGACY_FORMATS:  # stage settings were [run] keys
            staged.update({k: data.pop(k) for k in LEGACY_STAGE_KEYS if k in data})
        unknown = sorted(set(data) - core)
        if unknown:
            raise InputError(f"{path}: unknown settings {', '.join(unknown)}")
        check_types(data, where=f"{path}: ")
        given = {k: v for k, v in overrides.items() if v is not None}
        staged.update({k: given.pop(k) for k in list(given) if k not in core
                       and k != "component_options"})
        options = {**check_component_options(doc.get("options", {}), f"{path}: "),
                   **given.pop("component_options", {})}
        data.update(given)
        return cls(**data, stage_options=staged, component_options=options)


def flat_stage_settings(tables, where="") -> dict:
    """``[stages.NAME]`` tables (or flat keys) as one setting -> value dict."""
    if not isinstance(tables, dict):
        raise InputError(f"{where}: [stages] must hold tables of settings")
    flat = {}
    for key, value in tables.items():
        flat.update(value if isinstance(value, dict) else {key: value})
    return flat


def check_component_options(options, where: str = "") -> dict:
    """``{kind: {option: value}}`` for the kinds in :data:`OPTION_KINDS`, or one line."""
    if not isinstance(options, dict) or not all(isinstance(v, dict) for v in options.values()):
        raise InputError(f"{where}component options must be tables per kind "
                         f"({', '.join(OPTION_KINDS)}), got {options!r}")
    unknown = sorted(set(options) - set(OPTION_KINDS))
    if unknown:
        raise InputError(f"{where}options for unknown component kind {', '.join(unknown)}; "
                         f"valid kinds: {', '.join(OPTION_KINDS)}")
    return {kind: dict(values) for kind, values in options.items() if values}


def parse_component_options(items) -> dict:
    """``KIND.KEY=VALUE`` strings (``-o dynamics.iterations=100``) as component options;
    values that parse as JSON are converted."""
    from ..params import parse_options

    grouped: dict = {}
    for item in items:
        kind, dot, rest = item.partition(".")
        if not dot or kind not in OPTION_KINDS:
            raise InputError(f"-o {item}: give KIND.KEY=VALUE with KIND one of "
                             f"{', '.join(OPTION_KINDS)}")
        grouped.setdefault(kind, {}).update(parse_options([rest], param_hint="-o"))
    return grouped


# ------------------------------------------------------------------ setting types
_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


@functools.cache
def _hints() -> dict:
    return typing.get_type_hints(RunConfig)


def check_types(values: dict, where: str = "") -> None:
    """Refuse a setting whose value does not have its field's annotated type, in one line
    naming the setting, the expected type and the value (``interpolate = "4"``)."""
    hints = _hints()
    for name, value in values.items():
        if name in hints and not _matches(value, hints[name]):
            raise InputError(f"{where}setting {name} must be {_describe(hints[name])}, got "
                             f"{_show(value)} ({_kind(value)})")


def _options(hint) -> tuple:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return typing.get_args(hint)
    return (hint,)


def _matches(value, hint) -> bool:
    for option in _options(hint):
        if option is type(None) and value is None:
            return True
        if typing.get_origin(option) is list:
            (item,) = typing.get_args(option)
            if isinstance(value, (list, tuple)) and all(_matches(v, item) for v in value):
                return True
        elif option in (int, float) and isinstance(value, bool):
            continue
        elif option is float and isinstance(value, int):
            return True
        elif isinstance(option, type) and isinstance(value, option):
            return True
    return False


def _describe(hint) -> str:
    names = []
    for option in _options(hint):
        if typing.get_origin(option) is list:
            names.append(f"a list of {_describe(typing.get_args(option)[0])[2:]}s")
        elif option is not type(None):
            names.append(_NAMES.get(option, getattr(option, "__name__", str(option))))
    return " or ".join(names)


def _show(value) -> str:
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def _kind(value) -> str:
    kinds = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
             list: "a list", tuple: "a list", dict: "a table"}
    return kinds.get(type(value), f"a {type(value).__name__}")
