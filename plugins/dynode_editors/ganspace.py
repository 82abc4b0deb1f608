"""GANSpace: principal components of W over sampled z.

Härkönen et al., "GANSpace: Discovering Interpretable GAN Controls" (NeurIPS 2020).
Components are read from or written to GANSpace's file layout, the one e4e ships
as ``ffhq_pca.pt``: ``{'mean': (1, D), 'comp': (K, 1, D), 'std': (K,)}`` with unit
components sorted by ``std`` (the standard deviation of W along each), largest first.
Strength is measured in standard deviations: ``ganspace:0:2`` moves 2 std along
component 0 (``Direction.scale`` is the component's std).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from dynode_core import InputError
from dynode_core import Direction, Editor, load_tensor_file

from .vectors import layer_label, parse_layers, require, restrict, sample_w


@dataclass
class Components:
    """PCA of W: ``mean`` (D,), unit ``comp`` (K, D), ``std`` (K,)."""

    mean: torch.Tensor
    comp: torch.Tensor
    std: torch.Tensor

    def to_file_dict(self) -> dict[str, torch.Tensor]:
        return {"mean": self.mean[None].contiguous(), "comp": self.comp[:, None].contiguous(),
                "std": self.std.contiguous()}


def fit_components(w: torch.Tensor, num_components: int = 80) -> Components:
    """PCA of W codes (N, D) by SVD of the centred data (float64). A component's sign is
    fixed so that its largest entry (in absolute value) is positive: the SVD's own signs
    depend on the LAPACK build, and ``ganspace:K:+2`` must mean the same move everywhere."""
    w = w.detach().double().cpu()
    mean = w.mean(0)
    _, s, vh = torch.linalg.svd(w - mean, full_matrices=False)
    vh = vh * torch.sign(vh.gather(1, vh.abs().argmax(dim=1, keepdim=True)))
    k = min(num_components, vh.shape[0])
    std = s[:k] / max(w.shape[0] - 1, 1) ** 0.5
    return Components(mean.float(), vh[:k].float(), std.float())


def save_components(components: Components, path: str | os.PathLike) -> Path:
    """Write GANSpace's ``{'mean', 'comp', 'std'}`` layout with ``torch.save`` (atomically).

    Saved through a file object, so the zip's records are named ``archive/...`` and not
    after the random temporary file: the same components give the same bytes."""
    from dynode_core import atomic_path

    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        torch.save(components.to_file_dict(), fh)
    return Path(path)


def load_components(path: str | os.PathLike) -> Components:
    """Read a GANSpace components file (``weights_only=True``)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"no such GANSpace components file: {path}")
    data = load_tensor_file(path, "a GANSpace components file")
    if not isinstance(data, dict) or not {"mean", "comp", "std"} <= set(data):
        raise InputError(f"{path} is not a GANSpace file: expected a dict with 'mean', 'comp', 'std'")
    comp = torch.as_tensor(data["comp"]).float()
    comp = comp.reshape(comp.shape[0], -1)
    mean = torch.as_tensor(data["mean"]).float().reshape(-1)
    std = torch.as_tensor(data["std"]).float().reshape(-1)
    if mean.shape[0] != comp.shape[1] or std.shape[0] != comp.shape[0]:
        raise InputError(f"{path}: inconsistent shapes mean {tuple(data['mean'].shape)}, comp "
                         f"{tuple(data['comp'].shape)}, std {tuple(data['std'].shape)}")
    return Components(mean, comp / comp.norm(dim=1, keepdim=True).clamp_min(1e-12), std)


class GanSpaceEditor(Editor):
    """Directions "0", "1", ... along the principal components of W.

    ``components``: a GANSpace file to read; without one, ``samples`` z drawn
    with ``seed`` are mapped and ``num_components`` components are fitted
    (``save`` writes them). ``layers``: W+ indices to move (default all).
    """

    def __init__(self, components=None, samples: int = 10_000, seed: int = 0,
                 num_components: int = 80, layers="all", save=None) -> None:
        self.path, self.samples, self.seed = components, int(samples), int(seed)
        self.num_components, self.layers, self.save = int(num_components), layers, save

    def components(self, generator) -> Components:
        if self.path is not None:
            found = load_components(self.path)
        else:
            require(generator, editor="ganspace")
            found = fit_components(sample_w(generator, self.samples, self.seed), self.num_components)
            if self.save is not None:
                save_components(found, self.save)
        dim = getattr(generator, "latent_dim", None)
        if dim is not None and found.comp.shape[1] != dim:
            raise InputError(f"GANSpace components have D={found.comp.shape[1]} but the generator's "
                             f"latent_dim is {dim}")
        return found

    def directions(self, generator) -> dict[str, Direction]:
        found = self.components(generator)
        num_ws = getattr(generator, "num_ws", None)
        layers = parse_layers(self.layers, num_ws)
        return {
            str(k): Direction(str(k), restrict(vec, layers, num_ws), f"PCA component of W, std "
                              f"{std:.4g} ({layer_label(layers)})", scale=float(std))
            for k, (vec, std) in enumerate(zip(found.comp, found.std.tolist()))
        }
