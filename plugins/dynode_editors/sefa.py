"""SeFa: closed-form directions from the generator's style modulation weights.

Shen & Zhou, "Closed-Form Factorization of Latent Semantics in GANs" (CVPR 2021):
a style layer computes ``style = A w + b``; the directions ``n`` that change the
styles most, ``argmax |A n|``, are the eigenvectors of ``A^T A``. With several
layers, their matrices are stacked (each channel's row over the w axis
normalised to unit norm first, as the paper's code does) and the eigenvectors
are sorted by eigenvalue, largest first; direction ``"k"`` is the k-th.
"""

from __future__ import annotations

import torch

from dynode_core import Direction, Editor

from .vectors import layer_label, parse_layers, require, restrict


def style_layer_ws(generator) -> list[int]:
    """The W+ index each StyleSpace layer reads, found by perturbing one W+ row at a time."""
    known = generator.style_layer_ws
    if known is not None:
        return list(known)
    param = next(iter(generator.parameters()))
    base = torch.zeros(1, generator.num_ws, generator.latent_dim, device=param.device,
                       dtype=param.dtype)
    with torch.no_grad():
        ref = generator.styles(base)
        owner = [None] * len(ref)
        for j in range(generator.num_ws):
            probe = base.clone()
            probe[0, j] = 1.0
            for i, style in enumerate(generator.styles(probe)):
                if owner[i] is None and not torch.equal(style, ref[i]):
                    owner[i] = j
    return [0 if j is None else j for j in owner]


def sefa_factorize(weights: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """(eigenvalues (D,), eigenvectors (D, D) as rows), largest eigenvalue first.

    ``weights`` are the chosen layers' (C_in, D) modulation matrices. Each row is
    normalised over the w axis, the rows are stacked into A and ``A^T A`` is
    decomposed in float64. Signs are fixed so each vector's largest entry is positive.
    """
    stacked = torch.cat([w.detach().double().cpu() for w in weights])
    stacked = stacked / stacked.norm(dim=1, keepdim=True).clamp_min(1e-12)
    values, vectors = torch.linalg.eigh(stacked.T @ stacked)
    values, vectors = values.flip(0), vectors.flip(1).T.contiguous()
    peak = vectors.abs().argmax(dim=1)
    signs = torch.sign(vectors.gather(1, peak[:, None]))
    return values, vectors * signs


class SefaEditor(Editor):
    """SeFa directions "0", "1", ... of a generator with ``modulation_weights()``.

    ``layers``: the W+ indices whose style layers are factorised and moved
    (``"all"``: every layer, giving (D,) W directions; else (L, D) directions
    zero outside ``layers``). ``rgb``: include the to-RGB style layers (SeFa and
    rosinality's ``closed_form_factorization.py`` leave them out).
    """

    def __init__(self, layers="all", rgb: bool = False) -> None:
        self.layers, self.rgb = layers, bool(rgb)

    def factorize(self, generator) -> tuple[torch.Tensor, torch.Tensor, list[int] | None]:
        """Eigenvalues, eigenvectors (rows) and chosen W+ layers for ``generator``."""
        require(generator, editor="sefa")
        layers = parse_layers(self.layers, generator.num_ws)
        try:
            weights = generator.modulation_weights()
        except NotImplementedError as exc:
            raise InputError(f"editor 'sefa' cannot factorize this generator: {exc}") from None
        names = generator.style_layer_names or [""] * len(weights)
        owners = style_layer_ws(generator)
        chosen = [w for w, name, j in zip(weights, names, owners)
                  if (self.rgb or "rgb" not in name) and (layers is None or j in layers)]
        if not chosen:
            raise ValueError(f"no style layer reads {layer_label(layers)}"
                             f"{'' if self.rgb else ' (to-RGB layers excluded; pass rgb=True)'}")
        values, vectors = sefa_factorize(chosen)
        return values, vectors, layers

    def directions(self, generator) -> dict[str, Direction]:
        values, vectors, layers = self.factorize(generator)
        return {
            str(k): Direction(str(k), restrict(vec.float(), layers, generator.num_ws),
                              f"SeFa eigenvalue {val:.4g} ({layer_label(layers)})")
            for k, (val, vec) in enumerate(zip(values.tolist(), vectors))
        }
