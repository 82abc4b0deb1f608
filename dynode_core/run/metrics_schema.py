"""The types of ``metrics.json``, checked before a report shows them.

A small explicit schema: each known key names the type its value must have. Keys it
does not list (a plugin's own metrics) pass as they are. A wrong type is one line
naming the key's path, e.g. ``metrics.json: tune.psnr_curve[3] must be a number, got 'x'``.
"""

from __future__ import annotations

from typing import Any, Callable

from ..errors import InputError

Check = Callable[[Any, str], None]


class SchemaError(InputError):
    """A metrics value of the wrong type; the message names the key."""


def _fail(path: str, what: str, value) -> None:
    raise SchemaError(f"metrics.json: {path} must be {what}, got {value!r:.60}")


def number(value, path: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        _fail(path, "a number", value)


def integer(value, path: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        _fail(path, "an integer", value)


def text(value, path: str) -> None:
    if not isinstance(value, str):
        _fail(path, "a string", value)


def optional(check: Check) -> Check:
    def run(value, path: str) -> None:
        if value is not None:
            check(value, path)
    return run


def list_of(check: Check) -> Check:
    def run(value, path: str) -> None:
        if not isinstance(value, list):
            _fail(path, "a list", value)
        for i, item in enumerate(value):
            check(item, f"{path}[{i}]")
    return run


def dict_of(check: Check) -> Check:
    """A JSON object whose every value passes ``check``."""
    def run(value, path: str) -> None:
        if not isinstance(value, dict):
            _fail(path, "an object", value)
        for key, item in value.items():
            check(item, f"{path}.{key}")
    return run


def record(fields: dict[str, Check], *, required: tuple[str, ...] = ()) -> Check:
    """A JSON object whose listed keys pass their checks (other keys pass as they are)."""
    def run(value, path: str) -> None:
        if not isinstance(value, dict):
            _fail(path, "an object", value)
        for key in required:
            if key not in value:
                raise SchemaError(f"metrics.json: {path}.{key} is missing")
        for key, check in fields.items():
            if key in value:
                check(value[key], f"{path}.{key}" if path else key)
    return run


def scalar(value, path: str) -> None:
    """What a generic table cell can show: a number, a string, a boolean or null."""
    if value is not None and not isinstance(value, (int, float, str, bool)):
        _fail(path, "a number or a string", value)


#: ``metrics.json`` as ``dynode run`` writes it.
METRICS = record({
    "frames": integer,
    "interpolated_frames": integer,
    "device": text,
    "seed": integer,
    "threads": integer,
    "precision": text,
    "versions": dict_of(optional(text)),
    "reconstruction_psnr": number,
    "reconstruction_ssim": number,
    "reconstruction_psnr_per_frame": list_of(number),
    "reconstruction_ssim_per_frame": list_of(number),
    "fit": dict_of(lambda v, p: None),  # a dynamics model's own statistics
    "fit_loss": optional(number),
    "tune": record({"psnr_curve": list_of(number), "steps": integer,
                    "final_batch_psnr": optional(number), "resumed": lambda v, p: None}),
    "stages": dict_of(record({"seconds": number, "peak_rss_mb": number})),
    "total_seconds": number,
    "peak_rss_mb": number,
    # temporal consistency: per output, its numbers (shown generically as a table)
    "temporal": dict_of(lambda v, p: (dict_of(scalar) if isinstance(v, dict) else scalar)(v, p)),
})


def check_metrics(metrics) -> dict:
    """``metrics`` if every known key has its type; else one :class:`SchemaError` line."""
    if not isinstance(metrics, dict):
        raise SchemaError("metrics.json does not hold a JSON object")
    METRICS(metrics, "")
    return metrics
