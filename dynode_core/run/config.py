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

from ..errors import InputError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CONFIG_FORMAT = "dynode.run/1"


@dataclass
class RunConfig:
    """Everything that determines a run; ``config.toml`` in a run folder reproduces it."""

    input: str | None = None  # a video, GIF or frame folder; None renders a world clip
    generator: str = "shapes64"
    checkpoint: str | None = None
    encoder: str | None = None  # a registered encoder name or a file; None: the generator's
    inverter: str | None = None  # None: hybrid when an encoder exists, else optim
    inversion_steps: int | None = None
    dynamics: str = "ode"
    interpolate: int = 4
    extrapolate: float = 0.0  # seconds past the last frame
    edits: list[str] = field(default_factory=list)
    propagate: str = "dynamics"
    crop: str = "center"
    align: str = "center"  # aligner NAME[:OPTION]: face, center (follows crop), box:X,Y,W,H, none
    face_index: int = 0  # --align face: which face to track (0 = the largest)
    paste_back: bool | None = None  # None: on when the aligner crops a part (face, box)
    audio: bool = True  # the input's audio in every full-length output
    max_frames: int | None = None  # read at most this many frames of the input
    demo_motion: str = "circle"  # world clip rendered when input is None
    demo_frames: int = 64
    fps: float | None = None  # frame rate for frame folders
    device: str = "auto"
    seed: int = 0
    batch_size: int = 16
    gif: bool = False  # a bounded GIF preview beside every video
    max_output_frames: int | None = None  # None: 100,000 frames per output video
    tune: str | None = None  # a registered tuner (pti): the generator tuned on the clip
    tune_steps: int | None = None  # the tuner's steps (None: its default)
    out: str = "dynode-run"

    def __post_init__(self) -> None:
        check_types({f.name: getattr(self, f.name) for f in fields(self)})
        if self.interpolate < 1:
            raise InputError(f"--interpolate must be >= 1, got {self.interpolate}")
        if self.extrapolate < 0:
            raise InputError(f"--extrapolate must be >= 0 seconds, got {self.extrapolate}")
        if self.crop not in ("center", "none"):
            raise InputError(f"--crop must be 'center' or 'none', got {self.crop!r}")
        self.edits = list(self.edits)

    # ---------------------------------------------------------------- TOML
    def to_toml(self) -> str:
        import tomli_w

        data = {k: v for k, v in dataclasses.asdict(self).items() if v is not None}
        return tomli_w.dumps({"format": CONFIG_FORMAT, "run": data})

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
        if doc.get("format") != CONFIG_FORMAT:
            raise InputError(f"{path}: format {doc.get('format')!r} is not {CONFIG_FORMAT!r}")
        data = dict(doc.get("run", {}))
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(f"{path}: unknown settings {', '.join(unknown)}")
        check_types(data, where=f"{path}: ")
        data.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**data)


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
