"""Load StyleGAN2 generators from the files users own, and save them as safetensors + JSON.

Accepted inputs (the architecture is always read from the tensors):

- rosinality ``convert_weight.py`` files: ``{'g_ema': state_dict, 'latent_avg': (D,)}``;
- rosinality ``train.py`` checkpoints: ``{'g', 'd', 'g_ema', 'args': Namespace, ...}``;
- a bare ``g_ema`` state dict;
- e4e / pSp checkpoints that carry their generator as ``state_dict['decoder.*']``;
- this module's own ``.safetensors`` files (``format`` = ``dynode.stylegan2/1``).

Pickles are read with ``torch.load(weights_only=True)``, with only
``argparse.Namespace`` allow-listed: no other object is ever constructed.
When a file holds no mean latent, one is estimated from many mapped z (seeded).
"""

from __future__ import annotations

import argparse
import json
import pickle
import re
import warnings
from collections import Counter
from pathlib import Path

import torch

from dynode_core.errors import InputError
from dynode_core.io import atomic_path
from dynode_core.weights import check_format, config_of, read_safetensors

from .model import StyleGAN2Generator

FORMAT = "dynode.stylegan2/1"
MEAN_LATENT_SAMPLES = 4096
_REQUIRED = ("input.input", "conv1.conv.weight", "style.1.weight")


def _vote(values, what: str) -> int:
    """The most common of the sizes that several tensors agree on."""
    values = [int(v) for v in values if v is not None]
    if not values:
        raise InputError(f"cannot infer the {what} of the StyleGAN2 generator from its tensors")
    return Counter(values).most_common(1)[0][0]


def infer_config(state: dict[str, torch.Tensor]) -> dict:
    """size, style_dim, n_mlp and the width of every resolution, from tensor shapes."""
    def dim(key, axis):
        t = state.get(key)
        return t.shape[axis] if t is not None and t.dim() > axis else None

    n_mlp = max([int(m.group(1)) for k in state
                 if (m := re.fullmatch(r"style\.(\d+)\.(weight|bias)", k))], default=0)
    blocks = 1 + max([int(m.group(1)) for k in state
                      if (m := re.fullmatch(r"to_rgbs\.(\d+)\..*", k))], default=-1)
    blocks = max(blocks, (1 + max([int(m.group(1)) for k in state
                                   if (m := re.fullmatch(r"convs\.(\d+)\..*", k))], default=-1)) // 2)
    style_dim = _vote([dim(k, 1) for k in state
                       if k.startswith("style.") or k.endswith("modulation.weight")], "style_dim")
    channels = {4: _vote([dim("input.input", 1), dim("conv1.conv.weight", 1),
                          dim("conv1.conv.weight", 2), dim("to_rgb1.conv.weight", 2),
                          dim("conv1.activate.bias", 0)], "width at 4 px")}
    for k in range(blocks):
        a, b = f"convs.{2 * k}", f"convs.{2 * k + 1}"
        channels[2 ** (k + 3)] = _vote(
            [dim(f"{a}.conv.weight", 1), dim(f"{a}.activate.bias", 0), dim(f"{b}.conv.weight", 1),
             dim(f"{b}.conv.weight", 2), dim(f"{b}.activate.bias", 0),
             dim(f"to_rgbs.{k}.conv.weight", 2)], f"width at {2 ** (k + 3)} px")
    return {"size": 2 ** (blocks + 2), "style_dim": style_dim, "n_mlp": n_mlp,
            "channels": {str(r): c for r, c in channels.items()}, "lr_mlp": 0.01}


def check_state(state: dict[str, torch.Tensor], model: torch.nn.Module, source) -> None:
    """Raise one :class:`InputError` naming every missing, unexpected and mis-shaped key."""
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items() if k != "latent_avg"}
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [f"{k} {tuple(state[k].shape)} (expected {shape})" for k, shape in expected.items()
             if k in state and tuple(state[k].shape) != shape]
    problems = [f"{label}: {', '.join(items)}" for label, items in
                (("missing keys", missing), ("unexpected keys", unexpected), ("wrong shapes", wrong))
                if items]
    if problems:
        raise InputError(f"{source} is not a consistent StyleGAN2 generator: {'; '.join(problems)}")


def _torch_load(path: Path):
    try:
        with torch.serialization.safe_globals([argparse.Namespace]), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # pickle-protocol notices
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure to read is the user's file
        text = str(exc)
        found = re.search(r"GLOBAL ([\w.]+)", text)
        if isinstance(exc, pickle.UnpicklingError) and found:
            raise InputError(f"refused to load {path}: it would unpickle {found.group(1)}, which is "
                             "not allowed (only tensors, containers and argparse.Namespace)") from None
        text = text.split("WeightsUnpickler error:")[-1]
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        detail = lines[0] if lines else "truncated or empty file"
        raise InputError(f"cannot read {path} as a PyTorch checkpoint "
                         f"({type(exc).__name__}: {detail[:120]})") from None


def _describe(obj) -> str:
    if isinstance(obj, dict):
        keys = [str(k) for k in list(obj)[:6]]
        return "a dict with keys " + ", ".join(keys) + (", ..." if len(obj) > 6 else "")
    return f"a {type(obj).__name__}"


def _unpack(obj, path: Path):
    """(generator state dict, latent_avg or None) from any accepted checkpoint layout."""
    if not isinstance(obj, dict):
        raise InputError(f"{path} does not hold a StyleGAN2 generator: it holds {_describe(obj)}")
    if isinstance(obj.get("g_ema"), dict):
        return obj["g_ema"], obj.get("latent_avg")
    inner = obj.get("state_dict")
    if isinstance(inner, dict):
        decoder = {k[8:]: v for k, v in inner.items() if k.startswith("decoder.")}
        if not decoder:
            raise InputError(f"{path} holds no generator weights (no decoder.* in its state_dict; "
                             "an encoder-only e4e/pSp checkpoint?): give the StyleGAN2 checkpoint")
        return decoder, obj.get("latent_avg")
    if all(isinstance(v, torch.Tensor) for v in obj.values()) and any(k in obj for k in _REQUIRED):
        return obj, None
    raise InputError(f"{path} does not hold a StyleGAN2 generator (expected rosinality 'g_ema' "
                     f"weights): it holds {_describe(obj)}")


def _read_safetensors(path: Path):
    state, meta = read_safetensors(path)
    check_format(meta, FORMAT, path, "a StyleGAN2 generator", allow_missing=True)
    return state, config_of(meta)


def load_generator(path, device="cpu", *, seed: int = 0) -> StyleGAN2Generator:
    """Load a frozen generator (eval mode, no parameter gradients) from ``path`` onto ``device``."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"checkpoint {path} does not exist")
    config = None
    if path.suffix == ".safetensors":
        state, config = _read_safetensors(path)
        latent_avg = state.pop("latent_avg", None)
    else:
        state, latent_avg = _unpack(_torch_load(path), path)
        state = dict(state)
        stored_avg = state.pop("latent_avg", None)  # dynode's own training checkpoints
        latent_avg = stored_avg if latent_avg is None else latent_avg
    if not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InputError(f"{path}: the generator state dict holds non-tensor values")
    if not any(k in state for k in _REQUIRED):
        raise InputError(f"{path} does not hold a StyleGAN2 generator: none of "
                         f"{', '.join(_REQUIRED)} among its {len(state)} tensors")
    config = config or infer_config(state)
    model = StyleGAN2Generator(config["size"], config["style_dim"], config["n_mlp"],
                               channels=config["channels"], lr_mlp=config.get("lr_mlp", 0.01))
    check_state(state, model, path)
    model.load_state_dict({**state, "latent_avg": model.latent_avg}, strict=True)
    model.mean_latent_source = "checkpoint"
    if latent_avg is None:
        model.estimate_mean_latent(MEAN_LATENT_SAMPLES, seed=seed)
        model.mean_latent_source = f"estimated from {MEAN_LATENT_SAMPLES} mapped z (seed {seed})"
    else:
        avg = torch.as_tensor(latent_avg).float()
        if avg.shape[-1] != model.latent_dim or avg.dim() > 2:
            raise InputError(f"{path}: latent_avg has shape {tuple(avg.shape)}, expected "
                             f"({model.latent_dim},)")
        model.latent_avg.copy_(avg.reshape(-1, model.latent_dim).mean(0))
    return model.requires_grad_(False).eval().to(device)


def save_generator(model: StyleGAN2Generator, path) -> Path:
    """Write ``path`` (.safetensors, format + config in its header) and a JSON sidecar."""
    from safetensors.torch import save_file

    path = Path(path)
    if path.suffix != ".safetensors":
        raise InputError(f"save path {path} must end with .safetensors")
    state = {k: v.detach().to("cpu", torch.float32).contiguous()
             for k, v in model.state_dict().items()}
    meta = {"format": FORMAT, "config": json.dumps(model.config)}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata=meta)
    with atomic_path(path.with_suffix(".json")) as tmp:
        tmp.write_text(json.dumps({"format": FORMAT, "config": model.config}, indent=2) + "\n")
    return path
