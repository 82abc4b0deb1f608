"""Tuned generators stored as deltas: the changed tensors only, tied to their base.

A delta file is safetensors (format ``dynode.generator-delta/1``) holding the tuned
tensors under their ``state_dict`` names; its header records the base generator's
SHA-256 (of its weights, see :func:`generator_sha256`) and the tuner's config.
Applying it to another base is refused with one line.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from .errors import InputError

FORMAT = "dynode.generator-delta/1"


def generator_sha256(generator: torch.nn.Module) -> str:
    """SHA-256 of a model's weights: every ``state_dict`` tensor (name, dtype, shape and
    float32 bytes on the CPU), in name order. Independent of the file it came from."""
    digest = hashlib.sha256()
    for name, tensor in sorted(generator.state_dict().items()):
        t = tensor.detach().to("cpu").contiguous()
        digest.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        digest.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else
                      t.float().numpy().tobytes())
    return digest.hexdigest()


def tune_generator(tuner, generator: torch.nn.Module, latents, targets, *, progress=None,
                   state_dir=None, edits=None) -> tuple[dict, dict]:
    """Tune ``generator`` in place with ``tuner`` (codes ``latents`` as pivots, frames
    from ``targets(indices)``); returns the tuner's statistics (with a ``psnr_curve``,
    maybe empty) and the delta as the keywords of :func:`save_generator_delta`
    (``tensors``: the changed tensors, ``base_sha256``, ``config``: the tuner's config
    and its statistics without the curve). The one place a delta is made.

    ``edits``: (K, L, D) offsets of the edits to come (see :func:`edit_offsets`), handed
    to a tuner that declares ``takes_edits`` (others tune as without them)."""
    base_sha256 = generator_sha256(generator)
    base = {k: v.detach().cpu().clone() for k, v in generator.state_dict().items()}
    extra = {} if progress is None else {"progress": progress}
    if edits is not None and len(edits) and tuner.takes_edits:
        extra["edits"] = edits
    stats = {"psnr_curve": [], **tuner.tune(generator, latents, targets, state_dir=state_dir,
                                            **extra)}
    tensors = {name: t.detach().to("cpu").clone() for name, t in generator.state_dict().items()
               if name in base and not torch.equal(t.detach().to("cpu"), base[name])}
    config = {**tuner.config, "stats": {k: v for k, v in stats.items() if k != "psnr_curve"}}
    return stats, {"tensors": tensors, "base_sha256": base_sha256, "config": config}


def edit_offsets(edits, pivots: torch.Tensor) -> torch.Tensor | None:
    """(K, L, D): what each resolved edit adds to frame 0's code, the offset every frame's
    code gets with the ``offset`` propagation; None without edits."""
    if not edits:
        return None
    first = pivots[0]
    return torch.stack([torch.as_tensor(edit.apply(first)).to(first) - first for edit in edits])


def save_generator_delta(path, tensors: dict[str, torch.Tensor], *, base_sha256: str,
                         config: dict | None = None) -> Path:
    """Write a delta file atomically."""
    from .io import write_safetensors

    path = Path(path)
    if path.suffix != ".safetensors":
        raise InputError(f"a generator delta is a .safetensors file, got {path}")
    return write_safetensors(path, tensors, fmt=FORMAT,
                             config={"base_sha256": base_sha256, "tuner": config or {}})


def read_generator_delta(path) -> tuple[dict[str, torch.Tensor], dict]:
    """(tensors, config with ``base_sha256``) of a delta file, checked for its format."""
    from .io import check_format, config_of, read_safetensors

    path = Path(path)
    if not path.is_file():
        raise InputError(f"generator delta {path} does not exist")
    tensors, meta = read_safetensors(path)
    check_format(meta, FORMAT, path, "a generator delta")
    config = config_of(meta, path) or {}
    base = config.get("base_sha256")
    if not isinstance(base, str) or len(base) != 64:
        raise InputError(f"{path}: the delta does not name its base generator (base_sha256, "
                         f"a SHA-256 hex digest; got {base!r})")
    if not isinstance(config.get("tuner", {}), dict):
        raise InputError(f"{path}: the delta's tuner config is not a JSON object")
    return tensors, config


def apply_generator_delta(generator: torch.nn.Module, path) -> dict:
    """Load a delta into ``generator`` (in place); refuses a generator with other base
    weights, naming both hashes. Returns the delta's config."""
    tensors, config = read_generator_delta(path)
    base = generator_sha256(generator)
    if base != config["base_sha256"]:
        raise InputError(f"{path} was tuned from a generator with weights "
                         f"{config['base_sha256'][:12]}..., but this one has {base[:12]}...; "
                         "apply it to the generator it was tuned from")
    state = generator.state_dict()
    wrong = [n for n, t in tensors.items() if n not in state or state[n].shape != t.shape]
    if wrong:
        raise InputError(f"{path}: tensors that do not fit the generator: {', '.join(wrong[:5])}")
    with torch.no_grad():
        for name, tensor in tensors.items():
            state[name].copy_(tensor.to(state[name]))
    return config
