"""The edit term of pivotal tuning: edits made after tuning stay as steady as the
reconstruction.

An edit renders frame i from ``pivots[i] + offset``. Tuning fits the pivots alone, so it is
free to render the codes just beside them in any way, and the pivots of an optimisation
inversion jitter from frame to frame: on carphone's first 48 face crops (shapes64, 600
steps) the tuned edit ``sefa:0:2`` flickered 5.8x as much as the tuned reconstruction
(aligned-crop warping error), the untuned one 3.0x. The term asks each edited pivot to
render as the tuned render of its pivot (held fixed) plus the change the edit makes in the
untuned generator, smoothed over time with a Gaussian of ``sigma`` frames: what the edit
does is kept, the pivots' jitter is not carried into it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

#: Frames rendered at once while the changes are tabulated.
RENDER_BATCH = 16


class EditTerm:
    """The untuned generator's change for every (edit, frame), smoothed over time and kept
    as float16 (K x T x 3 x R x R: 2.9 MiB per edit for 120 frames at 64 px), and the
    loss that holds the tuned generator to it."""

    def __init__(self, original, pivots: torch.Tensor, offsets: torch.Tensor,
                 sigma: float) -> None:
        from scipy.ndimage import gaussian_filter1d

        self.offsets = offsets.to(pivots)
        tables = []
        with torch.no_grad():
            for offset in self.offsets:
                change = torch.cat([
                    (original.synthesize(p + offset, noise_mode="const")
                     - original.synthesize(p, noise_mode="const")).float().cpu()
                    for p in pivots.split(RENDER_BATCH)])
                if sigma > 0 and len(change) > 1:
                    change = torch.from_numpy(gaussian_filter1d(change.numpy(), sigma, axis=0,
                                                                mode="nearest"))
                tables.append(change.half())
        self.changes = torch.stack(tables)

    def loss(self, generator, pivots, index, images, samples: int, rng) -> torch.Tensor:
        """MSE between ``samples`` edited pivots of the batch ``index`` (random edits) and
        their targets: the batch's tuned renders ``images`` (no gradient) plus the change."""
        pick = torch.randperm(len(index), generator=rng)[:samples]
        which = torch.randint(len(self.offsets), (len(pick),), generator=rng)
        frames = index[pick]
        codes = pivots[frames] + self.offsets[which]
        target = (images.detach()[pick] + self.changes[which, frames].to(images)).clamp(-1, 1)
        return F.mse_loss(generator.synthesize(codes, noise_mode="const"), target)
