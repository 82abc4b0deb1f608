"""Load StyleGAN2 generators from the files users own, and save them as safetensors + JSON.

Accepted inputs (the architecture is always read from the tensors):

- rosinality ``convert_weight.py`` files: ``{'g_ema': state_dict, 'latent_avg': (D,)}``;
- rosinality ``train.py`` checkpoints: ``{'g', 'd', 'g_ema', 'args': Namespace, ...}``;
- a bare ``g_ema`` state dict;
- e4e / pSp checkpoints that carry their generator as ``state_dict['decoder.*']``;
- NVIDIA stylegan2-ada-pytorch network pickles (``.pkl``; ``G_ema`` unless ``network='G'``),
  read by :mod:`dynode_core.formats.netpickle` without running anything from the file, mapped by :mod:`.nvidia`;
- this module's own ``.safetensors`` files (``format`` = ``dynode.stylegan2/1``).

torch.save files are read with ``torch.load(weights_only=True)``, with only
``argparse.Namespace`` allow-listed: no other object is ever constructed.
When a file holds no mean latent, one is estimated from many mapped z (seeded).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

import torch

from dynode_core import (InputError, check_format, config_of,
                         load_tensor_file, read_safetensors, write_safetensors)

from .model import StyleGAN2Generator
from dynode_core.formats import (check_conversion_paths, file_sha256, is_network_pickle,
                                 load_network, state_problems)
from .nvidia import nvidia_generator_state

FORMAT = "dynode.stylegan2/1"
MEAN_LATENT_SAMPLES = 4096
NETWORKS = {"G_ema": "g_ema", "G": "g"}  # NVIDIA pickle name -> rosinality train.py key
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
    embed = state.get("embed.weight")  # class-conditional mapping (dynode exports)
    return {"size": 2 ** (blocks + 2), "style_dim": style_dim, "n_mlp": n_mlp,
            "channels": {str(r): c for r, c in channels.items()}, "lr_mlp": 0.01,
            "c_dim": 0 if embed is None else embed.shape[1],
            "embed_dim": 0 if embed is None else embed.shape[0]}


def check_state(state: dict[str, torch.Tensor], model: torch.nn.Module, source) -> None:
    """Raise one :class:`InputError` naming every missing, unexpected and mis-shaped key."""
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items() if k != "latent_avg"}
    problems = state_problems(state, expected)
    if problems:
        raise InputError(f"{source} is not a consistent StyleGAN2 generator: {'; '.join(problems)}")


def _torch_load(path: Path):
    return load_tensor_file(path, "a StyleGAN2 checkpoint", allow=[argparse.Namespace])


def _describe(obj) -> str:
    if isinstance(obj, dict):
        keys = [str(k) for k in list(obj)[:6]]
        return "a dict with keys " + ", ".join(keys) + (", ..." if len(obj) > 6 else "")
    return f"a {type(obj).__name__}"


def _unpack(obj, path: Path, network: str = "G_ema"):
    """(generator state dict, latent_avg or None) from any accepted checkpoint layout."""
    if not isinstance(obj, dict):
        raise InputError(f"{path} does not hold a StyleGAN2 generator: it holds {_describe(obj)}")
    key = NETWORKS[network]
    if isinstance(obj.get(key), dict):
        return obj[key], obj.get("latent_avg") if key == "g_ema" else None
    if network != "G_ema":
        raise InputError(f"{path} holds no {network} generator (no '{key}' entry)")
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
    return state, config_of(meta, path)


def read_checkpoint(path, network: str = "G_ema"):
    """(state dict in dynode's layout, config or None, latent_avg or None) of any accepted file."""
    path = Path(path)
    if network not in NETWORKS:
        raise InputError(f"network must be one of {', '.join(NETWORKS)}, got {network!r}")
    if not path.is_file():
        raise InputError(f"checkpoint {path} does not exist")
    if path.suffix == ".safetensors":
        state, config = _read_safetensors(path)
        return state, config, state.pop("latent_avg", None)
    if is_network_pickle(path):
        return nvidia_generator_state(load_network(path, network), path)
    state, latent_avg = _unpack(_torch_load(path), path, network)
    state = dict(state)
    stored_avg = state.pop("latent_avg", None)  # dynode's own training checkpoints
    return state, None, stored_avg if latent_avg is None else latent_avg


def load_generator(path, device="cpu", *, seed: int = 0, network: str = "G_ema"
                   ) -> StyleGAN2Generator:
    """Load a frozen generator (eval mode, no parameter gradients) from ``path`` onto ``device``.

    ``network`` picks ``G_ema`` (default) or the non-averaged ``G`` of an NVIDIA network
    pickle (``g_ema`` / ``g`` of a rosinality training checkpoint).
    """
    path = Path(path)
    state, config, latent_avg = read_checkpoint(path, network)
    if not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InputError(f"{path}: the generator state dict holds non-tensor values")
    if not any(k in state for k in _REQUIRED):
        raise InputError(f"{path} does not hold a StyleGAN2 generator: none of "
                         f"{', '.join(_REQUIRED)} among its {len(state)} tensors")
    model = StyleGAN2Generator(**(config or infer_config(state)))
    check_state(state, model, path)
    model.load_state_dict({**state, "latent_avg": model.latent_avg}, strict=True)
    del state
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


def save_generator(model: StyleGAN2Generator, path, *, source: dict | None = None) -> Path:
    """Write ``path`` (.safetensors, format + config in its header) and a JSON sidecar
    (format, config, and ``source``: where the weights came from, when given)."""
    path = Path(path)
    if path.suffix != ".safetensors":
        raise InputError(f"save path {path} must end with .safetensors")
    state = {k: v.detach().to("cpu", torch.float32) for k, v in model.state_dict().items()}
    sidecar = {} if source is None else {"source": source}
    return write_safetensors(path, state, fmt=FORMAT, config=model.config, sidecar=sidecar)


def convert_checkpoint(source, out, *, network: str = "G_ema", overwrite: bool = False) -> Path:
    """Load any accepted file (``.pkl``, rosinality ``.pt``, e4e/pSp) once and write it as
    dynode's ``.safetensors`` + JSON, so later loads never read a pickle."""
    source, out = check_conversion_paths(source, out, overwrite=overwrite)
    model = load_generator(source, network=network)
    return save_generator(model, out, source={
        "file": source.name, "sha256": file_sha256(source), "network": network,
        "mean_latent": model.mean_latent_source})
