"""Helpers shared by the editors: layer ranges, normalisation, sampled W codes.

Conventions for a :class:`~dynode_core.interfaces.Direction` vector:

- a W direction is (D,) with unit L2 norm; it moves every layer of a W+ code;
- a W+ direction is (L, D); it is scaled so that its largest layer row has
  unit norm (e4e's ``pose.pt`` is stored so), which keeps strengths
  comparable with W directions. Rows outside a layer range are zero.
"""

from __future__ import annotations

import torch

from dynode_core import InputError


def parse_layers(layers, num_ws: int | None) -> list[int] | None:
    """W+ indices from ``None``/``"all"`` (every layer: returns None), an int, a list,
    or a string such as ``"0-7"``, ``"0,1,4-6"`` (ranges inclusive)."""
    if layers is None or (isinstance(layers, str) and layers.strip().lower() == "all"):
        return None
    if num_ws is None:
        raise InputError(f"layers {layers!r} need the number of W+ layers: give a generator "
                         "or edit a W+ trajectory")
    if isinstance(layers, int):
        items = [layers]
    elif isinstance(layers, str):
        items = []
        for part in filter(None, (p.strip() for p in layers.split(","))):
            lo, sep, hi = part.partition("-")
            try:
                items += list(range(int(lo), int(hi) + 1)) if sep else [int(lo)]
            except ValueError:
                raise InputError(f"bad layer range {part!r}: use e.g. 'all', '3', '0-7' or '0,2,4-6'"
                                 ) from None
    else:
        items = [int(i) for i in layers]
    bad = [i for i in items if not 0 <= i < num_ws]
    if bad or not items:
        raise InputError(f"layers {layers!r} out of range: the generator has W+ layers 0-{num_ws - 1}")
    return sorted(set(items))


def unit(vector: torch.Tensor) -> torch.Tensor:
    """Normalise a (D,) vector to unit norm or an (L, D) one to largest row norm 1."""
    vector = vector.detach().to(torch.float32)
    norm = vector.norm() if vector.dim() == 1 else vector.norm(dim=-1).max()
    if not torch.isfinite(vector).all() or norm <= 0:
        raise InputError("a direction must be finite and non-zero")
    return vector / norm


def restrict(vector: torch.Tensor, layers: list[int] | None, num_ws: int) -> torch.Tensor:
    """Keep ``vector`` ((D,) or (L, D)) on ``layers`` only, as an (L, D) W+ direction
    (``layers=None`` returns it unchanged)."""
    if layers is None:
        return vector
    full = vector.expand(num_ws, -1) if vector.dim() == 1 else vector
    if full.shape[0] != num_ws:
        raise InputError(f"a W+ direction with {full.shape[0]} layers does not fit a generator "
                         f"with {num_ws}")
    out = torch.zeros_like(full)
    out[layers] = full[layers]
    return out


def layer_label(layers: list[int] | None) -> str:
    return "all layers" if layers is None else f"layers {','.join(map(str, layers))}"


def require(generator, editor: str):
    """Refuse a missing generator with a clear message (what a generator offers is
    declared on :class:`dynode_core.Generator`; an optional method it lacks raises
    ``NotImplementedError`` naming itself)."""
    from dynode_core import Generator

    if not isinstance(generator, Generator):  # None, or only the codes' shape
        raise InputError(f"editor '{editor}' needs a generator: pass --generator NAME "
                         "[--checkpoint PATH]")
    return generator


@torch.no_grad()
def sample_w(generator, n: int, seed: int = 0, *, truncation: float = 1.0,
             batch_size: int = 512) -> torch.Tensor:
    """W codes (n, D) of ``z = torch.randn(n, D, generator=torch.Generator().manual_seed(seed))``
    (row i is sample i), mapped in batches on the generator's device."""
    z = torch.randn(n, generator.latent_dim, generator=torch.Generator().manual_seed(seed))
    device = next(iter(generator.parameters()), torch.empty(0)).device
    out = [generator.mapping(chunk.to(device), truncation).float().cpu()
           for chunk in z.split(batch_size)]
    return torch.cat(out)
