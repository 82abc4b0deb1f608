"""The one validator for numbers a user types: CLI options, ``-o KEY=VALUE`` component
options, ``config.toml`` settings and batch manifest columns all go through
:func:`check_number`, so ``nan``, ``inf``, a negative count or a huge value is one line
naming the setting, the value and the valid range, never a traceback later on.
"""

from __future__ import annotations

import math
import numbers

from .errors import InputError

#: The largest value a setting takes unless its own range says otherwise: far above any
#: sensible count or weight, far below what overflows a C integer or a tensor size.
CEILING = 1e9


def _show(x: float) -> str:
    return f"{int(x):,}" if float(x).is_integer() and abs(x) < 1e15 else f"{x:g}"


def describe_range(kind: type, minimum=None, maximum=None, above=None) -> str:
    """``an integer between 1 and 1,000`` and the like, for messages and help."""
    what = "an integer" if kind is int else "a finite number"
    low = f"> {_show(above)}" if above is not None else (
        f">= {_show(minimum)}" if minimum is not None else None)
    if maximum is not None and minimum is not None and above is None:
        return f"{what} between {_show(minimum)} and {_show(maximum)}"
    parts = [p for p in (low, f"<= {_show(maximum)}" if maximum is not None else None) if p]
    return f"{what} {' and '.join(parts)}" if parts else what


def check_number(name: str, value, *, kind: type = float, minimum: float | None = None,
                 maximum: float | None = CEILING, above: float | None = None,
                 where: str = ""):
    """``value`` as ``kind`` (``int`` or ``float``) when it is a finite number within
    ``[minimum, maximum]`` (and ``> above`` when given), else :class:`InputError`:
    ``setting NAME must be an integer between 1 and 1000, got nan``. A ``bool`` is not a
    number; a float with an integral value is accepted as an ``int``."""
    expected = describe_range(kind, minimum, maximum, above)
    problem = f"{where}setting {name} must be {expected}, got {value!r}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(problem)
    if not math.isfinite(value):
        raise InputError(problem)
    if kind is int:
        if value != int(value):
            raise InputError(problem)
        value = int(value)
    else:
        value = float(value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum) \
            or (above is not None and value <= above):
        raise InputError(problem)
    return value
