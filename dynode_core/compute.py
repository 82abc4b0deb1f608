"""How a command computes: torch's thread count and the generator's number format.

``--threads N`` (every compute command; ``DYNODE_THREADS`` when the flag is not given)
sets torch's intra-op threads. On a machine shared with other jobs one thread is often
faster than two (docs/performance.md has the measured table).

``--precision bf16`` runs the generator in bfloat16 where the device computes it
natively: a CPU with AVX512_BF16 or AMX (``avx512_bf16`` / ``amx_bf16`` in
``/proc/cpuinfo``; ``bf16`` on Arm), or a CUDA GPU that supports it. Codes, images and
everything the optimisers update stay float32: a generator that declares ``bf16`` in
:attr:`~dynode_core.Generator.precisions` takes and returns float32 tensors and computes
inside in its parameters' dtype. Elsewhere ``bf16`` is refused with one line.
"""

from __future__ import annotations

import functools
import os

from .errors import InputError
from .validate import check_number

THREADS_ENV = "DYNODE_THREADS"
#: ``--threads``'s range (``threads`` in a run's table of numbers too).
THREADS_RANGE = (int, 1, 1024)
#: The number formats ``--precision`` takes; ``fp32`` is the default.
PRECISIONS = ("fp32", "bf16")
CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def check_threads(value, name: str = "threads") -> int:
    kind, minimum, maximum = THREADS_RANGE
    return check_number(name, value, kind=kind, minimum=minimum, maximum=maximum)


def set_threads(threads=None) -> int:
    """Set torch's thread count to ``threads``, else to ``$DYNODE_THREADS`` when set,
    else leave torch's default; returns the count in force (for ``metrics.json``)."""
    import torch

    if threads is None and os.environ.get(THREADS_ENV, "").strip():
        raw = os.environ[THREADS_ENV].strip()
        try:
            threads = int(raw)
        except ValueError:
            raise InputError(f"{THREADS_ENV} must be an integer between 1 and "
                             f"{THREADS_RANGE[2]}, got {raw!r}") from None
        threads = check_threads(threads, THREADS_ENV)
    if threads is not None:
        torch.set_num_threads(check_threads(threads))
    return torch.get_num_threads()


@functools.lru_cache(maxsize=None)
def cpu_flags() -> frozenset:
    """The CPU's feature flags from ``/proc/cpuinfo`` (empty where there is none)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in ("flags", "Features"):
                    return frozenset(value.split())
    except OSError:
        pass
    return frozenset()


def bf16_unsupported(device: str) -> str | None:
    """Why ``device`` cannot compute in bfloat16 natively, or ``None`` when it can."""
    import torch

    if str(device).startswith("cuda"):
        if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
            return None
        return "this CUDA GPU does not support bf16"
    flags = cpu_flags()
    if any(flag in flags for flag in CPU_BF16_FLAGS) or "bf16" in flags:
        return None
    return ("this CPU has no native bf16 (no avx512_bf16 or amx_bf16 in /proc/cpuinfo; "
            f"torch reports {torch.backends.cpu.get_cpu_capability()})")


def check_precision(precision: str, device: str = "cpu") -> str:
    """``precision`` when it is a known format that ``device`` computes, else one line."""
    if precision not in PRECISIONS:
        raise InputError(f"unknown precision {precision!r}; valid: {', '.join(PRECISIONS)}")
    if precision == "bf16":
        reason = bf16_unsupported(device)
        if reason is not None:
            raise InputError(f"--precision bf16 is not available: {reason}; use --precision fp32")
    return precision


def dtype_of(precision: str):
    import torch

    return {"fp32": torch.float32, "bf16": torch.bfloat16}[precision]


def apply_precision(generator, precision: str, device: str = "cpu", *, copy: bool = False):
    """``generator`` computing in ``precision`` (converted in place, or a converted copy
    with ``copy=True``: for a model shared with other runs). A generator that does not
    declare the format is refused with one line."""
    check_precision(precision, device)
    if precision == "fp32":
        return generator
    if precision not in generator.precisions:
        raise InputError(f"generator {generator.name or type(generator).__name__!r} does not "
                         f"run in {precision} (it runs in {', '.join(generator.precisions)})")
    if copy:
        import copy as copying

        generator = copying.deepcopy(generator)
    return generator.to(dtype_of(precision))
