"""What the executors share: the CPUs this process may use, threads per worker, retries."""

from __future__ import annotations

import os

#: A job whose worker dies is given to another worker once; then it is failed.
MAX_ATTEMPTS = 2


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def threads_per_worker(cpus: int, workers: int) -> int:
    """Torch threads per worker so that workers x threads <= cpus (at least one)."""
    return max(1, int(cpus) // max(1, int(workers)))
