"""What a run records about itself: package versions (no torch import)."""

from __future__ import annotations

import platform
from importlib import metadata

from . import __version__

PACKAGES = ("torch", "torchdiffeq", "torchsde", "torchcde", "numpy", "scipy", "av", "pillow")


def versions() -> dict[str, str]:
    """dynode, Python and the installed versions of the packages a run depends on."""
    found = {"dynode": __version__, "python": platform.python_version()}
    for dist in PACKAGES:
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return found
