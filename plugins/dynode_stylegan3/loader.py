"""Load StyleGAN3 generators from the files users own; save them as safetensors + JSON.

Accepted inputs:

- NVIDIA NVlabs/stylegan3 network pickles (``.pkl``; ``G_ema`` unless ``network='G'``), read
  by :mod:`dynode_core.formats.netpickle` without running anything from the file; the layer
  table comes from the attributes the file stores (:func:`.config.config_from_pickle`);
- state dicts with NVIDIA's key names saved with ``torch.save`` (as yuval-alaluf/stylegan3-editing
  stores its generators): bare, under ``G_ema``, or as ``decoder.*`` of an encoder checkpoint
  (``{'state_dict', 'latent_avg'}``); the table is derived from the layer names
  (:func:`.config.config_from_state`); read with ``torch.load(weights_only=True)``;
- this module's own ``.safetensors`` (``format`` = ``dynode.stylegan3/1``, the table in its
  header), as ``dynode convert --generator stylegan3`` writes them.
"""

from __future__ import annotations

from pathlib import Path

import torch

from dynode_core import (InputError, check_format, config_of,
                         load_tensor_file, read_safetensors, write_safetensors)
from dynode_core.formats import (check_conversion_paths, file_sha256, is_network_pickle,
                                 load_network, state_problems)

from .config import config_from_pickle, config_from_state
from .model import StyleGAN3Generator

FORMAT = "dynode.stylegan3/1"
NETWORKS = ("G_ema", "G")


def _from_pickle(path: Path, network: str):
    G = load_network(path, network)
    return {k: v.detach().float() for k, v in G.state_dict().items()}, config_from_pickle(G, path)


def _unpack(obj, path: Path, network: str) -> dict:
    """The generator's state dict (NVIDIA key names) from a torch.save file."""
    if isinstance(obj, dict) and isinstance(obj.get(network), dict):
        return obj[network]
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        decoder = {k[8:]: v for k, v in obj["state_dict"].items() if k.startswith("decoder.")}
        if decoder:
            return decoder
    if isinstance(obj, dict) and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return obj
    kind = (f"a dict with keys {', '.join(map(str, list(obj)[:6]))}" if isinstance(obj, dict)
            else f"a {type(obj).__name__}")
    raise InputError(f"{path} does not hold a StyleGAN3 generator state dict: it holds {kind}")


def read_checkpoint(path, network: str = "G_ema") -> tuple[dict, dict]:
    """(state dict with NVIDIA's key names, layer table) of any accepted file."""
    path = Path(path)
    if network not in NETWORKS:
        raise InputError(f"network must be one of {', '.join(NETWORKS)}, got {network!r}")
    if not path.is_file():
        raise InputError(f"checkpoint {path} does not exist")
    if path.suffix == ".safetensors":
        state, meta = read_safetensors(path)
        check_format(meta, FORMAT, path, "a StyleGAN3 generator")
        return state, config_of(meta, path)
    if is_network_pickle(path):
        return _from_pickle(path, network)
    state = _unpack(load_tensor_file(path, "a StyleGAN3 checkpoint"), path, network)
    state = {k: v.detach().float() for k, v in state.items()}
    return state, config_from_state(state, path)


def _check_state(state: dict, model: StyleGAN3Generator, path) -> dict:
    """The state completed with the buffers trained files may lack (``transform``)."""
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    state = dict(state)
    state.setdefault("synthesis.input.transform", torch.eye(3))
    problems = state_problems(state, expected)
    if problems:
        raise InputError(f"{path} is not a consistent StyleGAN3 generator: {'; '.join(problems)}")
    return state


def load_generator(path, device="cpu", *, network: str = "G_ema") -> StyleGAN3Generator:
    """A frozen StyleGAN3 generator (eval mode, no parameter gradients) on ``device``."""
    state, config = read_checkpoint(path, network)
    model = StyleGAN3Generator(config)
    model.load_state_dict(_check_state(state, model, path), strict=True)
    return model.requires_grad_(False).eval().to(device)


def save_generator(model: StyleGAN3Generator, path, *, source: dict | None = None) -> Path:
    """Write ``path`` (.safetensors, format + layer table in its header) and a JSON sidecar."""
    path = Path(path)
    if path.suffix != ".safetensors":
        raise InputError(f"save path {path} must end with .safetensors")
    state = {k: v.detach().to("cpu", torch.float32) for k, v in model.state_dict().items()}
    sidecar = {} if source is None else {"source": source}
    return write_safetensors(path, state, fmt=FORMAT, config=model.config, sidecar=sidecar)


def convert_checkpoint(source, out, *, network: str = "G_ema", overwrite: bool = False) -> Path:
    """Load any accepted file once and write it as dynode's ``.safetensors`` + JSON."""
    source, out = check_conversion_paths(source, out, overwrite=overwrite)
    model = load_generator(source, network=network)
    return save_generator(model, out, source={"file": source.name, "sha256": file_sha256(source),
                                              "network": network})
