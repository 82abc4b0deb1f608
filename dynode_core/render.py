"""Codes to frames: batched rendering, uint8 conversion and contact sheets."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from .interfaces import Progress, no_progress


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """Images (N, 3, H, W) in [-1, 1] to (N, H, W, 3) uint8."""
    x = ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).cpu().numpy()


def to_tensor(frames: np.ndarray) -> torch.Tensor:
    """Frames (N, H, W, 3) uint8 to (N, 3, H, W) float in [-1, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()
    return x / 127.5 - 1.0


def render_batches(generator, codes: torch.Tensor, *, batch_size: int = 16,
                   noise_mode: str = "const", transforms: torch.Tensor | None = None,
                   progress: Progress = no_progress) -> Iterator[np.ndarray]:
    """Render codes (N, L, D) in batches with ``noise_mode`` (``const`` for video:
    no flicker); yields (B, H, W, 3) uint8 arrays. ``transforms`` (N, 3, 3): one input
    transform per code, for generators that declare ``takes_transform``."""
    device = next(generator.parameters()).device
    total = int(codes.shape[0])
    with torch.no_grad():
        for start in range(0, total, batch_size):
            batch = codes[start:start + batch_size].to(device)
            extra = {} if transforms is None else {
                "transform": transforms[start:start + batch_size].to(device)}
            yield to_uint8(generator.synthesize(batch, noise_mode=noise_mode, **extra))
            progress(len(batch), total=total)


def render_all(generator, codes: torch.Tensor, **kwargs) -> np.ndarray:
    """All frames at once (N, H, W, 3) uint8; use :func:`render_batches` for long videos."""
    return np.concatenate(list(render_batches(generator, codes, **kwargs)), axis=0)


def pick_columns(n: int, columns: int) -> np.ndarray:
    """``columns`` evenly spaced indices into ``n`` frames (all of them if fewer)."""
    return np.unique(np.linspace(0, n - 1, min(n, columns)).round().astype(int))


def contact_sheet(rows: list[tuple[str, np.ndarray]], path, *, columns: int = 8,
                  scale: int = 1) -> Path:
    """Write a PNG grid: one labelled row per (label, frames (N, H, W, 3)), ``columns``
    evenly spaced frames from each. Written atomically."""
    from PIL import Image, ImageDraw

    from .io import atomic_path

    h, w = rows[0][1].shape[1:3]
    h, w = h * scale, w * scale
    label_w, pad = 110, 2
    sheet = Image.new("RGB", (label_w + columns * (w + pad), len(rows) * (h + pad)), "white")
    draw = ImageDraw.Draw(sheet)
    for r, (label, frames) in enumerate(rows):
        y = r * (h + pad)
        draw.text((4, y + h // 2 - 6), label, fill="black")
        for c, idx in enumerate(pick_columns(len(frames), columns)):
            tile = Image.fromarray(frames[idx]).resize((w, h), Image.NEAREST)
            sheet.paste(tile, (label_w + c * (w + pad), y))
    with atomic_path(path) as tmp:
        sheet.save(tmp, format="PNG")
    return Path(path)


def _write_png_frames(folder: Path, batches) -> Path:
    """Lossless PNG frames ``frame_00000.png`` ... into a new or empty folder."""
    from PIL import Image

    from .io import atomic_path

    folder.mkdir(parents=True, exist_ok=True)
    index = 0
    for batch in batches:
        for frame in batch:
            with atomic_path(folder / f"frame_{index:05d}.png") as tmp:
                Image.fromarray(frame).save(tmp, format="PNG")
            index += 1
    return folder


def read_transforms(path, count: int) -> torch.Tensor:
    """(count, 3, 3) float32 input transforms from a ``.npy``/``.pt`` file (or a
    ``.safetensors`` with one tensor ``transform``) holding (3, 3) or (count, 3, 3)."""
    from .io import InputError, load_tensor_file, read_safetensors

    path = Path(path)
    what = "input transforms, (3, 3) or (frames, 3, 3)"
    if path.suffix == ".safetensors":
        tensors, _ = read_safetensors(path)
        value = tensors.get("transform")
    else:
        value = load_tensor_file(path, what)
    if not isinstance(value, torch.Tensor) or value.shape[-2:] != (3, 3) \
            or value.dim() not in (2, 3) or (value.dim() == 3 and value.shape[0] != count):
        shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
        raise InputError(f"{path}: --transform must hold {what} for {count} frames, got {shape}")
    value = value.float()
    if not bool(torch.isfinite(value).all()):
        raise InputError(f"{path}: --transform holds NaN or inf")
    return value.expand(count, 3, 3) if value.dim() == 2 else value


def names_folder(out) -> bool:
    """Whether an ``--out`` means a folder: a trailing slash, an existing folder, or no
    suffix (``frames_0.7/`` is a folder even though ``.7`` looks like a suffix)."""
    import os

    text = str(out)
    return text.endswith(("/", os.sep)) or Path(text).is_dir() or Path(text).suffix == ""


def write_rendering(latents, out, *, generator: str, checkpoint=None, fps=None,
                    device: str = "auto", batch_size: int = 16, overwrite: bool = False,
                    generator_delta=None, transform=None, precision: str = "fp32") -> Path:
    """Render a codes file to ``out``: ``.mp4``/``.gif`` video, ``.png`` contact sheet,
    or a folder of lossless PNG frames. Frames use ``const`` noise. ``generator_delta``:
    a tuned generator's delta file (``tuned.safetensors``) applied to the generator.
    ``transform``: a file of per-frame input transforms (:func:`read_transforms`), for a
    generator that declares ``takes_transform`` (StyleGAN3). ``precision``: ``fp32`` or
    ``bf16`` (where the device computes it, see :mod:`dynode_core.compute`)."""
    from .io import InputError, OutputError
    from .plugins import get_registry
    from .device import resolve_device
    from .trajectory import LatentTrajectory
    from .video import write_video

    folder = names_folder(out)
    out = Path(out)
    if out.exists() and not overwrite and not (out.is_dir() and not any(out.iterdir())):
        raise OutputError(f"{out} exists; choose another --out or pass --overwrite")
    if not folder and out.suffix.lower() != ".png":
        from .video import check_writable_video

        check_writable_video(out)  # an unknown type fails before the generator loads
    traj = LatentTrajectory.load(latents)
    transforms = None if transform is None else read_transforms(transform, len(traj.latents))
    from .compute import apply_precision, check_precision

    device = resolve_device(device)
    check_precision(precision, device)
    model = get_registry().create("generators", generator, checkpoint=checkpoint, device=device)
    if generator_delta is not None:
        from .tuning import apply_generator_delta

        apply_generator_delta(model, generator_delta)
    model = apply_precision(model, precision, device)
    if traj.dim != model.latent_dim or traj.num_layers not in (1, model.num_ws):
        raise OutputError(f"{latents} holds codes of shape (L={traj.num_layers}, "
                          f"D={traj.dim}) but generator '{generator}' takes "
                          f"(L=1 or {model.num_ws}, D={model.latent_dim})")
    if transforms is not None and not model.takes_transform:
        raise InputError(f"generator '{generator}' takes no input transform (--transform); "
                         "StyleGAN3 generators do")
    rate = fps or float(traj.meta.get("fps") or 25.0)
    batches = render_batches(model, traj.latents, batch_size=batch_size, transforms=transforms)
    if out.suffix.lower() == ".png":
        return contact_sheet([(out.stem[:14], np.concatenate(list(batches)))], out)
    if folder:
        return _write_png_frames(out, batches)
    return write_video(out, batches, fps=rate)
