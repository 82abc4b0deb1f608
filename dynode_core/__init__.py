"""dynode: continuous latent dynamics for GAN video interpolation and editing.

The public API comes in two tiers, each pinned by a test (a name is added on purpose or
not at all):

- the **component tier**, this module (with :mod:`dynode_core.testing`, the conformance
  checks and run helpers, and :mod:`dynode_core.formats`, readers of third-party file
  formats): the contracts, errors, hook marker, files and video, and the run. Every
  plugin may import it.
- the **application tier**, :mod:`dynode_core.app`: the building blocks of dynode's own
  commands (inversion, edits, rendering, metrics, tuned generators, batches), for
  plugins that add commands (``register_commands``) and for Python users.

Every other module is an implementation detail that may move. Importing this module
loads neither torch nor any plugin: names resolve on first use (pluggy's technique).
"""

import importlib

import pluggy

__version__ = "0.1.0"

#: Marker for hook implementations (see :mod:`dynode_core.hookspecs`).
hookimpl = pluggy.HookimplMarker("dynode")

#: The component tier: public name -> the module (under ``dynode_core``) that defines it.
#: What a plugin needs to provide a component, a hook or a stage, and to run dynode.
_PUBLIC = {
    # plugins and the registry
    "lazy": "registry",
    "get_registry": "plugins",
    # contracts every component kind implements
    "Generator": "interfaces",
    "Inverter": "interfaces",
    "Dynamics": "interfaces",
    "Editor": "interfaces",
    "Aligner": "interfaces",
    "Alignment": "alignment",
    "Tuner": "interfaces",
    "Direction": "interfaces",
    "Progress": "interfaces",
    "no_progress": "interfaces",
    "Executor": "interfaces",
    "VideoReader": "video_types",
    "VideoWriter": "video_types",
    "FrameSink": "video_types",
    "FrameBatch": "video_types",
    "VideoInfo": "video_types",
    # errors (one root), and the one validator of numbers users type
    "DynodeError": "errors",
    "InputError": "errors",
    "OutputError": "errors",
    "check_number": "validate",
    # latent trajectories
    "LatentTrajectory": "trajectory",
    "check_times": "trajectory",
    # a whole run, and the stages a plugin adds to it
    "RunConfig": "run",
    "run_pipeline": "run",
    "Stage": "run.runner",
    "StageOption": "run.runner",
    "Stages": "run.runner",
    "result_of": "run.runner",
    # what the pipeline hooks see of the default stages (see docs/plugins.md)
    "Source": "run.source",
    "Output": "run.outputs",
    "Rendered": "run.outputs",
    # what an executor runs in each worker
    "JobResult": "batch",
    "BatchWorker": "batch",
    "resolve_device": "device",
    # files
    "atomic_path": "io",
    "atomic_write_text": "io",
    "check_new_output": "io",
    "read_safetensors": "io",
    "write_safetensors": "io",
    "check_format": "io",
    "config_of": "io",
    "load_tensor_file": "io",
    "weights_fingerprint": "inversion",
    # video in and out
    "read_video": "video",
    "write_video": "video",
    "iter_frames": "video",
    "batch_frames": "video",
}

__all__ = ["__version__", "hookimpl", *_PUBLIC]


def __getattr__(name):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(f".{_PUBLIC[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'dynode_core' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
