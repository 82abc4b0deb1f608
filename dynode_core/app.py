"""The application tier of dynode's public API: the building blocks of its commands.

For plugins that add commands (``register_commands``, like the shapes world's ``dynode
bench``) and for Python users who script dynode beyond ``run_pipeline``. Component
plugins (a generator, an editor, a stage) need only :mod:`dynode_core`. Names resolve on
first use; a test pins the list.

    from dynode_core.app import invert_video, build_inverter, propagate_edit
"""

import importlib

#: public name -> the module (under ``dynode_core``) that defines it.
_PUBLIC = {
    # inversion
    "invert_video": "inversion",
    "build_inverter": "inversion",
    "default_encoder": "inversion",
    # edits and their propagation
    "parse_edit": "edits",
    "resolve_edit": "edits",
    "propagate_edit": "edits",
    "reference_codes": "edits",
    "create_editor": "edits",
    "Edit": "edits",
    "EditSpec": "edits",
    "PROPAGATIONS": "edits",
    "upsample_times": "edits",
    "extrapolation_times": "edits",
    # rendering and image metrics
    "render_all": "render",
    "add_edits": "run",
    "psnr_ssim": "metrics",
    "warping_error": "temporal",
    # whole videos
    "align_video": "alignment",
    "open_video": "video",
    "run_batch": "batch",
    "read_manifest": "batch",
    # tuned generators
    "generator_sha256": "tuning",
    "tune_generator": "tuning",
    "save_generator_delta": "tuning",
    "read_generator_delta": "tuning",
    "apply_generator_delta": "tuning",
    # for commands: options, progress, provenance
    "ComponentName": "params",
    "parse_options": "params",
    "Progressor": "progress",
    "versions": "provenance",
    "peak_rss_mb": "run.runner",
    # threads and number format (--threads, --precision)
    "set_threads": "compute",
    "check_precision": "compute",
    "apply_precision": "compute",
    "bf16_unsupported": "compute",
    "with_threads": "params",
}

__all__ = list(_PUBLIC)


def __getattr__(name):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(f"dynode_core.{_PUBLIC[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'dynode_core.app' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
