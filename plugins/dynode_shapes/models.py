"""The bundled models of the shapes world: the ``shapes64`` generator and its encoder.

- ``weights/shapes64.safetensors`` (+ ``.json``): the EMA generator of
  ``scripts/train_shapes_gan.py``, exported by ``scripts/export_shapes64.py``
  through the stylegan2 plugin's saver; loaded by the ``stylegan2`` generator (format ``dynode.stylegan2/1``); the JSON
  also records the training step and kimg it was exported at.
- ``weights/shapes64-e4e.safetensors`` (+ ``.json``): an e4e encoder into its W+
  (format ``dynode.encoder/1``), trained by ``scripts/train_encoder.py``.
- ``weights/shapes64-directions.safetensors`` (+ ``.json``): named edit directions
  (x, y, size, hue, bg_hue; :mod:`dynode_shapes.directions`) fitted by
  ``scripts/fit_shapes_directions.py``; offered as ``supervised:NAME`` with the
  bundled generator weights they were fitted on.
"""

from __future__ import annotations

from pathlib import Path

from dynode_core import DynodeError

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
GENERATOR_WEIGHTS = WEIGHTS_DIR / "shapes64.safetensors"
ENCODER_WEIGHTS = WEIGHTS_DIR / "shapes64-e4e.safetensors"
DIRECTIONS = WEIGHTS_DIR / "shapes64-directions.safetensors"
GUIDED_NETWORK = WEIGHTS_DIR / "shapes64-guided.safetensors"
NAME = "shapes64"


def load_shapes64(checkpoint=None, device="cpu"):
    """Generator factory: the bundled ``shapes64`` weights, or ``checkpoint`` (an export,
    a training checkpoint or any file the stylegan2 loader reads), built by the
    ``stylegan2`` generator through the registry."""
    from dynode_core import get_registry

    if checkpoint is None and not GENERATOR_WEIGHTS.is_file():
        raise DynodeError(f"the bundled shapes64 weights {GENERATOR_WEIGHTS} are missing; run "
                          "scripts/export_shapes64.py --checkpoint OUT/checkpoints/step-N.pt")
    registry = get_registry()
    if ("generators", "stylegan2") not in registry:
        raise DynodeError("generator 'shapes64' is a StyleGAN2 and needs the bundled "
                          "'dynode_stylegan2' plugin, which is blocked or failed to load")
    weights = GENERATOR_WEIGHTS if checkpoint is None else checkpoint
    return registry.create("generators", "stylegan2", checkpoint=str(weights), device=device,
                           model_name=NAME, directions=_bundled_directions if checkpoint is None
                           else None)


def _bundled_directions(model) -> dict:
    """The shipped named directions (none when fitted on other generator weights)."""
    from .directions import load_directions

    return load_directions(DIRECTIONS, model, GENERATOR_WEIGHTS) if DIRECTIONS.is_file() else {}


def shapes64_encoder_file(device="cpu"):
    """Encoder factory: the bundled ``shapes64-e4e`` weights file (the e4e inverter reads it)."""
    return ENCODER_WEIGHTS
