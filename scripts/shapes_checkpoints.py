"""Training checkpoints of the shapes GAN (``scripts/train_shapes_gan.py``) and the export
of their EMA generator as the bundled ``shapes64`` (``scripts/export_shapes64.py``).

Training tooling only: the runtime plugin loads the export through the ``stylegan2``
generator and never reads these checkpoints itself.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [p for p in (str(ROOT), str(ROOT / "plugins")) if p not in sys.path]

from dynode_core import InputError  # noqa: E402
from dynode_shapes.models import GENERATOR_WEIGHTS, NAME  # noqa: E402

#: The format of ``scripts/train_shapes_gan.py`` checkpoints.
TRAIN_FORMAT = "dynode.shapes-gan-train/1"


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
