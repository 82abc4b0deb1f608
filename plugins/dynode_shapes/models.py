"""The bundled models of the shapes world: the ``shapes64`` generator and its encoder.

- ``weights/shapes64.safetensors`` (+ ``.json``): the EMA generator of
  ``scripts/train_shapes_gan.py``, exported by ``scripts/export_shapes64.py``
  through the stylegan2 plugin's saver (format ``dynode.stylegan2/1``); the JSON
  also records the training step and kimg it was exported at.
- ``weights/shapes64-e4e.safetensors`` (+ ``.json``): an e4e encoder into its W+
  (format ``dynode.encoder/1``), trained by ``scripts/train_encoder.py``.
- ``weights/shapes64-directions.safetensors`` (+ ``.json``): named edit directions
  (x, y, size, hue, bg_hue; :mod:`dynode_shapes.directions`) fitted by
  ``scripts/fit_shapes_directions.py``; offered as ``supervised:NAME`` with the
  bundled generator weights they were fitted on.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

from dynode_core import DynodeError, InputError

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
GENERATOR_WEIGHTS = WEIGHTS_DIR / "shapes64.safetensors"
ENCODER_WEIGHTS = WEIGHTS_DIR / "shapes64-e4e.safetensors"
DIRECTIONS = WEIGHTS_DIR / "shapes64-directions.safetensors"
#: The format of ``scripts/train_shapes_gan.py`` checkpoints.
TRAIN_FORMAT = "dynode.shapes-gan-train/1"
NAME = "shapes64"


def read_training_checkpoint(path):
    """(EMA generator, training info) from a ``train_shapes_gan.py`` checkpoint, or
    ``None`` when ``path`` is some other file."""
    import torch

    from dynode_stylegan2.model import StyleGAN2Generator

    path = Path(path)
    if path.suffix not in (".pt", ".pth", ".ckpt"):
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - not ours: let the stylegan2 loader explain
        return None
    if not isinstance(state, dict) or state.get("format") != TRAIN_FORMAT:
        return None
    model = StyleGAN2Generator(**_generator_kwargs(state["g_ema_config"]))
    model.load_state_dict(state["g_ema"], strict=True)
    model.mean_latent_source = "checkpoint"
    train = state["config"]
    info = {"checkpoint": path.name, "step": int(state["step"]),
            "kimg": int(state["step"]) * int(train["batch"]) / 1000, "config": train}
    return model.requires_grad_(False).eval(), info


def _generator_kwargs(config: dict) -> dict:
    return {"size": config["size"], "style_dim": config["style_dim"], "n_mlp": config["n_mlp"],
            "channels": config["channels"], "lr_mlp": config.get("lr_mlp", 0.01)}


def export_generator(checkpoint, path=GENERATOR_WEIGHTS, **notes) -> dict:
    """Write the EMA generator of a training checkpoint as safetensors + JSON (the JSON
    records the step, kimg and ``notes``); returns the JSON's contents."""
    from dynode_core import atomic_write_text
    from dynode_stylegan2.loader import save_generator

    found = read_training_checkpoint(checkpoint)
    if found is None:
        raise InputError(f"{checkpoint} is not a {TRAIN_FORMAT} checkpoint "
                         "(scripts/train_shapes_gan.py writes OUT/checkpoints/step-N.pt)")
    model, info = found
    path = Path(path)
    save_generator(model, path)
    sidecar = path.with_suffix(".json")
    record = {**json.loads(sidecar.read_text()), "name": NAME, "training": info, **notes}
    atomic_write_text(sidecar, json.dumps(record, indent=2) + "\n")
    return record


def load_shapes64(checkpoint=None, device="cpu"):
    """Generator factory: the bundled ``shapes64`` weights, or ``checkpoint`` (an export,
    a training checkpoint or any file the stylegan2 loader reads)."""
    from dynode_stylegan2.loader import load_generator

    if checkpoint is None:
        if not GENERATOR_WEIGHTS.is_file():
            raise DynodeError(f"the bundled shapes64 weights {GENERATOR_WEIGHTS} are missing; run "
                              "scripts/export_shapes64.py --checkpoint OUT/checkpoints/step-N.pt")
        model = load_generator(GENERATOR_WEIGHTS, device=device)
        model.named_directions = partial(_bundled_directions, model)
    else:
        found = read_training_checkpoint(checkpoint)
        model = found[0].to(device) if found else load_generator(checkpoint, device=device)
    model.name = NAME
    return model


def _bundled_directions(model) -> dict:
    """The shipped named directions (none when fitted on other generator weights)."""
    from .directions import load_directions

    return load_directions(DIRECTIONS, model, GENERATOR_WEIGHTS) if DIRECTIONS.is_file() else {}


def shapes64_encoder_file(device="cpu"):
    """Encoder factory: the bundled ``shapes64-e4e`` weights file (the e4e inverter reads it)."""
    return ENCODER_WEIGHTS
