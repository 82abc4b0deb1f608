"""Directions stored in files: ``.pt`` (a tensor, read with ``weights_only=True``) or ``.npy``.

Accepted shapes: (D,), (1, D), (L, D) and (1, L, D); InterFaceGAN and e4e ship
(1, 512) W directions, e4e's ``pose.pt`` is (1, 18, 512). A direction whose D
differs from the generator's (or the trajectory's) is refused.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from dynode_core import InputError
from dynode_core import Direction, Editor, load_tensor_file

from .vectors import layer_label, parse_layers, restrict, unit

SUFFIXES = (".pt", ".pth", ".npy")


def load_direction_file(path: str | os.PathLike) -> torch.Tensor:
    """The raw direction in ``path`` as float32, squeezed to (D,) or (L, D)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no such direction file: {path}")
    if path.suffix not in SUFFIXES:
        raise InputError(f"{path}: direction files are {', '.join(SUFFIXES)}")
    data = load_tensor_file(path, "a direction file")
    if isinstance(data, dict) and "comp" in data:
        raise InputError(f"{path} holds GANSpace components: use the 'ganspace' editor "
                         f"(components={path})")
    if not torch.is_tensor(data):
        raise InputError(f"{path} holds a {type(data).__name__}, not a direction tensor")
    vector = data.float()
    while vector.dim() > 1 and vector.shape[0] == 1:
        vector = vector[0]
    if vector.dim() not in (1, 2):
        raise InputError(f"{path}: a direction must be (D,), (1, D), (L, D) or (1, L, D); "
                         f"got {tuple(data.shape)}")
    return vector


def check_fits(vector: torch.Tensor, generator, source) -> None:
    """Refuse a direction whose D (or L) does not match the generator's."""
    dim, num_ws = getattr(generator, "latent_dim", None), getattr(generator, "num_ws", None)
    if dim is not None and vector.shape[-1] != dim:
        raise InputError(f"direction {source} has D={vector.shape[-1]} but the latent space has "
                         f"D={dim}")
    if vector.dim() == 2 and num_ws is not None and vector.shape[0] != num_ws:
        raise InputError(f"direction {source} has {vector.shape[0]} W+ layers but the latent "
                         f"space has {num_ws}")


class FileEditor(Editor):
    """Directions read from files; the direction name is the file's path.

    ``folder``: a folder of direction files, listed by :meth:`directions` and
    looked up by name with or without suffix (``file:smile`` finds ``smile.pt``).
    ``layers``: W+ indices to move (default all).
    """

    def __init__(self, folder=None, layers="all") -> None:
        self.folder = None if folder is None else Path(folder)
        self.layers = layers

    def _find(self, name: str) -> Path:
        path = Path(name)
        candidates = [path] + ([self.folder / name] + [self.folder / f"{name}{s}" for s in SUFFIXES]
                               if self.folder is not None else [])
        return next((p for p in candidates if p.is_file()), path)

    def direction(self, name: str, generator=None) -> Direction:
        path = self._find(name)
        vector = load_direction_file(path)
        check_fits(vector, generator, path)
        layers = parse_layers(self.layers, getattr(generator, "num_ws", None)
                              or (vector.shape[0] if vector.dim() == 2 else None))
        vector = restrict(unit(vector), layers, getattr(generator, "num_ws", None) or vector.shape[0])
        return Direction(name, vector, f"from {path} ({layer_label(layers)})")

    def directions(self, generator=None) -> dict[str, Direction]:
        if self.folder is None:
            return {}
        if not self.folder.is_dir():
            raise InputError(f"no such direction folder: {self.folder}")
        out = {}
        for path in sorted(p for p in self.folder.iterdir() if p.suffix in SUFFIXES):
            try:
                out[path.stem] = self.direction(str(path), generator)
            except InputError:
                continue  # not a direction for this latent space (or a GANSpace file)
        for name, direction in out.items():
            direction.name = name
        return out
