"""dynode: continuous latent dynamics for GAN video interpolation and editing.

This module is the public API: what plugin authors and Python users import.
Plugins import from ``dynode_core`` and ``dynode_core.testing`` only; every other
module is an implementation detail that may move. Importing this module loads
neither torch nor any plugin: names resolve on first use (pluggy's technique).
A test pins the list, so a name is added here on purpose or not at all.
"""

import importlib

import pluggy

__version__ = "0.1.0"

#: Marker for hook implementations (see :mod:`dynode_core.hookspecs`).
hookimpl = pluggy.HookimplMarker("dynode")

#: public name -> the module (under ``dynode_core``) that defines it.
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
    "align_video": "alignment",
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
    # errors (one root)
    "DynodeError": "errors",
    "InputError": "errors",
    "OutputError": "errors",
    # latent trajectories
    "LatentTrajectory": "trajectory",
    "check_times": "trajectory",
    # a whole run
    "RunConfig": "run",
    "run_pipeline": "run",
    # many runs: dynode batch
    "run_batch": "batch",
    "read_manifest": "batch",
    "BatchJob": "batch",
    "JobResult": "batch",
    "BatchWorker": "batch",
    "RunContext": "run.context",
    "Stage": "run.runner",
    "Stages": "run.runner",
    "result_of": "run.runner",
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
    # video in and out
    "read_video": "video",
    "write_video": "video",
    "open_video": "video",
    "iter_frames": "video",
    "batch_frames": "video",
    # inversion, edits, rendering, metrics
    "invert_video": "inversion",
    "build_inverter": "inversion",
    "default_encoder": "inversion",
    "weights_fingerprint": "inversion",
    "upsample_times": "edits",
    "parse_edit": "edits",
    "resolve_edit": "edits",
    "propagate_edit": "edits",
    "reference_codes": "edits",
    "create_editor": "edits",
    "Edit": "edits",
    "EditSpec": "edits",
    "PROPAGATIONS": "edits",
    "render_batches": "render",
    "render_all": "render",
    "to_uint8": "render",
    "contact_sheet": "render",
    "psnr_ssim": "metrics",
    # tuned generators
    "generator_sha256": "tuning",
    "save_generator_delta": "tuning",
    "read_generator_delta": "tuning",
    "apply_generator_delta": "tuning",
    # building blocks for plugin commands
    "ComponentName": "params",
    "parse_options": "params",
    "Progressor": "progress",
    "versions": "provenance",
    "peak_rss_mb": "run.runner",
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
