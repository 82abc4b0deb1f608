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
#: The most memory the table of changes may take (bytes): a larger generator or a longer
#: clip keeps the changes average-pooled by a power of two until they fit (at 1024 px and
#: 120 frames one edit is 720 MiB at full size, 180 MiB pooled by 2).
TABLE_BYTES = 256 * 2**20


def pooling(count: int, resolution: int, budget: int | None = None) -> int:
    """The smallest power-of-two pooling factor whose float16 table of ``count`` (edit,
    frame) changes at ``resolution`` fits ``budget`` bytes (:data:`TABLE_BYTES`)."""
    budget = TABLE_BYTES if budget is None else budget
    factor = 1
    while count * 3 * 2 * (resolution // factor) ** 2 > budget and resolution // factor > 4:
        factor *= 2
    return factor


class EditTerm:
    """The untuned generator's change for every (edit, frame), smoothed over time and kept
    as float16 (K x T x 3 x R x R: 2.9 MiB per edit for 120 frames at 64 px; pooled by
    :attr:`factor` when that would pass :data:`TABLE_BYTES`), and the loss that holds the
    tuned generator to it (compared at the table's resolution)."""

    def __init__(self, original, pivots: torch.Tensor, offsets: torch.Tensor,
                 sigma: float) -> None:
        from scipy.ndimage import gaussian_filter1d

        self.offsets = offsets.to(pivots)
        self.factor = pooling(len(offsets) * len(pivots), original.resolution)
        parts: list[list[torch.Tensor]] = [[] for _ in self.offsets]
        with torch.no_grad():
            for batch in pivots.split(RENDER_BATCH):  # each pivot's render once, for every edit
                base = original.synthesize(batch, noise_mode="const")
                for part, offset in zip(parts, self.offsets):
                    edited = original.synthesize(batch + offset, noise_mode="const")
                    part.append(self._pool(edited - base).float().cpu())
        tables = []
        for part in parts:
            change = torch.cat(part)
            if sigma > 0 and len(change) > 1:
                change = torch.from_numpy(gaussian_filter1d(change.numpy(), sigma, axis=0,
                                                            mode="nearest"))
            tables.append(change.half())
        self.changes = torch.stack(tables)

    def _pool(self, images: torch.Tensor) -> torch.Tensor:
        return images if self.factor == 1 else F.avg_pool2d(images, self.factor)

    def loss(self, generator, pivots, index, images, samples: int, rng) -> torch.Tensor:
        """MSE between ``samples`` edited pivots of the batch ``index`` (random edits) and
        their targets: the batch's tuned renders ``images`` (no gradient) plus the change."""
        pick = torch.randperm(len(index), generator=rng)[:samples]
        which = torch.randint(len(self.offsets), (len(pick),), generator=rng)
        frames = index[pick]
        codes = pivots[frames] + self.offsets[which]
        target = self._pool(images.detach()[pick]) + self.changes[which, frames].to(images)
        rendered = self._pool(generator.synthesize(codes, noise_mode="const"))
        return F.mse_loss(rendered, target.clamp(-1, 1))
