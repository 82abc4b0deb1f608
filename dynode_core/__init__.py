"""dynode: continuous latent dynamics for GAN video interpolation and editing.

The public API; importing it loads neither torch nor any plugin until used.
"""

import importlib

import pluggy

__version__ = "0.1.0"

#: Marker for hook implementations (see :mod:`dynode_core.hookspecs`).
hookimpl = pluggy.HookimplMarker("dynode")

_LAZY = {
    "Registry": "registry",
    "Component": "registry",
    "UnknownComponentError": "registry",
    "ComponentConflictError": "registry",
    "lazy": "registry",
    "LatentTrajectory": "trajectory",
    "TrajectoryError": "trajectory",
    "get_plugin_manager": "plugins",
    "get_registry": "plugins",
    "StageRunner": "pipeline",
}

__all__ = ["__version__", "hookimpl", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'dynode_core' has no attribute {name!r}")
