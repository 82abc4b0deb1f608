"""Encoder files: official e4e / pSp checkpoints, and dynode's safetensors + JSON.

- ``.pt`` / ``.pth`` / ``.ckpt``: ``{'state_dict': encoder.* + decoder.*, 'latent_avg',
  'opts'}`` as e4e, pSp and ReStyle save them, read with ``torch.load(weights_only=True)``.
  The architecture is read from the tensors; ``opts['encoder_type']`` picks the forward
  (pSp's default ``GradualStyleEncoder`` when absent), and ``latent_avg`` is added only
  when ``opts['start_from_latent_avg']`` (default true) says so. The ``decoder.*`` part
  is a rosinality StyleGAN2: :func:`decoder_state` hands it out, and the stylegan2
  plugin's loader reads the same file as a generator checkpoint.
- ``.safetensors``: ``encoder.*`` and ``latent_avg`` tensors, with ``format`` =
  ``dynode.encoder/1`` and the :class:`~.encoder.EncoderConfig` (JSON) in the header and
  in a ``.json`` sidecar (read when the header has no config).

Names that are not files resolve through the ``encoders`` registry (:func:`resolve_encoder`).
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from pathlib import Path

import torch

from dynode_core import InputError
from dynode_core import (check_format, config_of, load_tensor_file, read_safetensors,
                         write_safetensors)

from .backbone import stage_widths
from .encoder import FORWARDS, EncoderConfig, StyleEncoder

FORMAT = "dynode.encoder/1"
TORCH_SUFFIXES = (".pt", ".pth", ".ckpt")


def infer_config(state: dict[str, torch.Tensor], encoder_type: str) -> EncoderConfig:
    """The :class:`EncoderConfig` that the encoder tensors (without prefix) describe."""
    def index_set(pattern):
        return sorted({int(m.group(1)) for k in state if (m := re.fullmatch(pattern, k))})

    units_idx = index_set(r"body\.(\d+)\.res_layer\.1\.weight")
    style_idx = index_set(r"styles\.(\d+)\.linear\.weight")
    if "input_layer.0.weight" not in state or not units_idx or not style_idx:
        raise InputError("not a pSp/e4e encoder: expected input_layer.*, body.* and styles.* tensors")
    widths = [int(state[f"body.{i}.res_layer.1.weight"].shape[0]) for i in units_idx]
    stages = [(w, len(list(group))) for w, group in itertools.groupby(widths)]
    runs = [n for _, n in stages]
    if len(runs) != 4:
        raise InputError(f"encoder body has {len(runs)} stages of distinct widths; expected 4")
    width = widths[0] / 64
    if tuple(w for w, _ in stages) != stage_widths(width):
        raise InputError(f"encoder stage widths {sorted(set(widths))} are not a multiple of "
                         "64, 128, 256, 512")
    convs = [len(index_set(rf"styles\.{i}\.convs\.(\d+)\.weight")) for i in style_idx]
    count = Counter(convs)
    coarse = count[convs[0]]
    return EncoderConfig(
        encoder_type=encoder_type, num_ws=len(style_idx),
        style_dim=int(state[f"styles.{style_idx[0]}.linear.weight"].shape[0]),
        input_size=16 * 2 ** convs[0], input_nc=int(state["input_layer.0.weight"].shape[1]),
        units=tuple(runs), width=width, se="body.0.res_layer.5.fc1.weight" in state,
        coarse_ind=coarse, middle_ind=coarse + count[convs[0] + 1])


def build(config: EncoderConfig, state: dict[str, torch.Tensor], latent_avg, source) -> StyleEncoder:
    """A :class:`StyleEncoder` holding ``state`` (keys without ``encoder.``), in eval mode."""
    avg = None if latent_avg is None else torch.as_tensor(latent_avg).float()
    try:
        model = StyleEncoder(config, avg)
    except ValueError as exc:
        raise InputError(f"{source}: {exc}") from None
    missing, unexpected = model.encoder.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise InputError(f"{source}: encoder weights do not match their architecture "
                         f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
    return model.eval().requires_grad_(False)


def _torch_checkpoint(path: Path) -> dict:
    obj = load_tensor_file(path, "an e4e/pSp checkpoint")
    if not isinstance(obj, dict) or not isinstance(obj.get("state_dict"), dict):
        raise InputError(f"{path} is not an e4e/pSp checkpoint: expected a dict with 'state_dict'")
    return obj


def decoder_state(path) -> dict[str, torch.Tensor]:
    """The ``decoder.*`` tensors (a rosinality StyleGAN2, prefix removed) of an e4e/pSp file."""
    state = _torch_checkpoint(Path(path))["state_dict"]
    return {k[len("decoder."):]: v for k, v in state.items() if k.startswith("decoder.")}


def load_official(path) -> StyleEncoder:
    """An encoder from an e4e / pSp / ReStyle ``.pt`` checkpoint."""
    path = Path(path)
    ckpt = _torch_checkpoint(path)
    opts = ckpt.get("opts") or {}
    if not isinstance(opts, dict):
        raise InputError(f"{path}: 'opts' must be a dict, got {type(opts).__name__}")
    encoder_type = opts.get("encoder_type", "GradualStyleEncoder")
    if encoder_type not in FORWARDS:
        raise InputError(f"{path}: encoder_type {encoder_type!r} is not supported; "
                         f"supported: {', '.join(FORWARDS)}")
    state = {k[len("encoder."):]: v for k, v in ckpt["state_dict"].items()
             if k.startswith("encoder.")}
    if not state:
        raise InputError(f"{path} holds no encoder.* weights")
    config = infer_config(state, encoder_type)
    size = opts.get("stylegan_size") or opts.get("output_size")
    if size and 2 * int(math.log2(int(size))) - 2 != config.num_ws:
        raise InputError(f"{path}: opts say a {size} px generator but the encoder has "
                         f"{config.num_ws} style blocks")
    latent_avg = ckpt.get("latent_avg")
    if not opts.get("start_from_latent_avg", True):
        latent_avg = None
    elif latent_avg is None:
        raise InputError(f"{path} has no 'latent_avg' although its opts start from it")
    config.extra = {"source": str(path), "opts_encoder_type": encoder_type}
    return build(config, state, latent_avg, path)


def to_checkpoint(encoder: StyleEncoder, decoder: dict | None = None, opts: dict | None = None) -> dict:
    """The official layout ``{'state_dict', 'latent_avg', 'opts'}`` (for ``torch.save``)."""
    state = {f"encoder.{k}": v.detach().cpu() for k, v in encoder.encoder.state_dict().items()}
    state.update({f"decoder.{k}": v.detach().cpu() for k, v in (decoder or {}).items()})
    size = 2 ** ((encoder.num_ws + 2) // 2)
    base = {"encoder_type": encoder.config.encoder_type, "stylegan_size": size,
            "input_nc": encoder.config.input_nc, "start_from_latent_avg": True}
    return {"state_dict": state, "latent_avg": encoder.latent_avg.detach().cpu().clone(),
            "opts": {**base, **(opts or {})}}


def save_encoder(encoder: StyleEncoder, path) -> Path:
    """Write ``path`` (.safetensors; format + config in the header) and a ``.json`` sidecar."""
    path = Path(path)
    if path.suffix != ".safetensors":
        raise InputError(f"encoder save path {path} must end with .safetensors")
    return write_safetensors(path, encoder.state_dict(), fmt=FORMAT,
                             config=encoder.config.to_dict(), sidecar={})


def load_safetensors(path) -> StyleEncoder:
    tensors, meta = read_safetensors(path)
    check_format(meta, FORMAT, path, "an encoder")
    try:
        config = EncoderConfig.from_dict(config_of(meta, path) or {})
    except (TypeError, ValueError) as exc:
        raise InputError(f"{path}: bad encoder config ({exc})") from None
    state = {k[len("encoder."):]: v for k, v in tensors.items() if k.startswith("encoder.")}
    return build(config, state, tensors.get("latent_avg"), path)


def load_encoder(path, device="cpu") -> StyleEncoder:
    """An encoder from an official ``.pt`` checkpoint or a dynode ``.safetensors`` file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"encoder file {path} does not exist")
    loaders = {".safetensors": load_safetensors, **{s: load_official for s in TORCH_SUFFIXES}}
    if path.suffix not in loaders:
        raise InputError(f"encoder file {path}: expected one of {', '.join(loaders)}")
    return loaders[path.suffix](path).to(device)


def resolve_encoder(name_or_path, device="cpu") -> StyleEncoder:
    """An encoder module from a file path or a name in the ``encoders`` registry."""
    if isinstance(name_or_path, torch.nn.Module):
        return name_or_path.to(device)
    text = str(name_or_path)
    if Path(text).is_file() or Path(text).suffix in (".safetensors", *TORCH_SUFFIXES):
        return load_encoder(text, device)
    from dynode_core import get_registry

    registry = get_registry()
    if ("encoders", text) not in registry:
        names = ", ".join(registry.names("encoders")) or "(none registered)"
        raise InputError(f"encoder {text!r} is neither a file nor a registered encoder; "
                         f"registered encoders: {names}")
    found = registry.create("encoders", text, device=device)
    return found.to(device) if isinstance(found, torch.nn.Module) else load_encoder(found, device)
