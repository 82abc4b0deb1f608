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


def changed_tensors(generator: torch.nn.Module, base: dict[str, torch.Tensor]
                    ) -> dict[str, torch.Tensor]:
    """The tensors of ``generator`` that differ from ``base`` (a state dict copy)."""
    return {name: t.detach().to("cpu").clone() for name, t in generator.state_dict().items()
            if name in base and not torch.equal(t.detach().to("cpu"), base[name])}


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
    config = config_of(meta) or {}
    if "base_sha256" not in config:
        raise InputError(f"{path}: the delta does not name its base generator")
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



def tune_on_clip(latents, clip, out, *, generator: str = "shapes64", checkpoint=None,
                 tuner: str = "pti", options: dict | None = None, crop: str = "center",
                 device: str = "auto", seed: int = 0, overwrite: bool = False) -> dict:
    """``dynode tune`` as a function: the clip's frames (streamed once into a frame
    store, as the generator sees them) tune the generator with the codes as pivots; the
    delta is written to ``out``. Checkpoints in ``OUT.state/`` so a rerun resumes."""
    import tempfile

    from .device import resolve_device
    from .interfaces import require
    from .inversion import to_generator_input
    from .io import check_new_output
    from .plugins import get_registry
    from .render import to_uint8
    from .run.source import FrameStore
    from .trajectory import LatentTrajectory
    from .video import read_video

    out = check_new_output(Path(out), overwrite=overwrite)
    traj = LatentTrajectory.load(latents)
    device = resolve_device(device)
    model = get_registry().create("generators", generator, checkpoint=checkpoint, device=device)
    if (traj.num_layers, traj.dim) != (model.num_ws, model.latent_dim):
        raise InputError(f"{latents} holds W+ codes of {traj.num_layers} x {traj.dim}, but "
                         f"generator '{generator}' takes {model.num_ws} x {model.latent_dim}")
    model.synthesis_parameters()
    chosen = require(get_registry().create("tuners", tuner, seed=seed, device=device,
                                           **(options or {})), "tuners", tuner)
    base_sha, base = generator_sha256(model), {k: v.detach().cpu().clone()
                                               for k, v in model.state_dict().items()}
    with tempfile.TemporaryDirectory(dir=out.parent if out.parent.exists() else None) as tmp:
        store = FrameStore(Path(tmp))
        for batch in read_video(clip, 16):
            x = to_generator_input(batch.frames, model.resolution, crop)
            store.append(to_uint8(x))
        if store.count != len(traj):
            raise InputError(f"{clip} has {store.count} frames but {latents} holds "
                             f"{len(traj)} codes")
        stats = chosen.tune(model, traj.latents, store.tensors,
                            state_dir=out.with_name(out.stem + ".state"))
    save_generator_delta(out, changed_tensors(model, base), base_sha256=base_sha,
                         config={**chosen.config, "stats": {
                             k: v for k, v in stats.items() if k != "psnr_curve"}})
    return stats
