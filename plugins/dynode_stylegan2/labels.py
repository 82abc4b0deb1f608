"""Class labels for class-conditional generators (NVIDIA's ``c_dim > 0`` networks)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from dynode_core import InputError


def one_hot(label, c_dim: int, like: torch.Tensor) -> torch.Tensor:
    """``label`` (an int, N class indices, or (N, c_dim) / (1, c_dim) vectors) as
    (N, c_dim) vectors in ``like``'s dtype and device, N = ``like.shape[0]``."""
    if label is None:
        raise InputError(f"this generator is class-conditional: give a label "
                         f"(a class index 0..{c_dim - 1})")
    label = torch.as_tensor(label, device=like.device)
    if label.dim() == 2 and label.shape[1] == c_dim:
        return label.to(like.dtype).expand(like.shape[0], -1)
    if label.dim() > 1 or label.dtype.is_floating_point or \
            not ((label >= 0) & (label < c_dim)).all():
        raise InputError(f"label must be class indices 0..{c_dim - 1} or (N, {c_dim}) vectors")
    return F.one_hot(label.expand(like.shape[0]), c_dim).to(like.dtype)
