"""Fit and calibrate the named directions of a shapes-world generator (see
:mod:`dynode_shapes.directions`); ``scripts/fit_shapes_directions.py`` runs it."""

from __future__ import annotations

import numpy as np
import torch

from dynode_shapes.directions import AMOUNTS, PERIODIC, FactorDirection, build_direction
from dynode_shapes.factor_errors import circular_difference
from dynode_shapes.world import RESOLUTION

#: Factors read, and how their changes are reported (multiplier to px / degrees).
REPORT_UNITS = {"x": RESOLUTION, "y": RESOLUTION, "size": RESOLUTION, "hue": 360.0,
                "bg_hue": 360.0}


def _change(factor: str, after: torch.Tensor, before: torch.Tensor) -> torch.Tensor:
    return circular_difference(after, before, 1.0) if factor in PERIODIC else after - before


class Reader:
    """Renders W+ codes with the generator and reads their factors with the regressor."""

    def __init__(self, generator, batch_size: int = 64) -> None:
        from dynode_shapes.regressor import load_regressor

        self.generator, self.batch_size = generator, batch_size
        self.device = next(generator.parameters()).device
        self.regressor = load_regressor(self.device)

    @torch.no_grad()
    def __call__(self, codes: torch.Tensor) -> dict[str, torch.Tensor]:
        from dynode_shapes.regressor import predict_factors

        out: dict[str, list] = {f: [] for f in AMOUNTS}
        for chunk in codes.split(self.batch_size):
            images = self.generator.synthesize(chunk.to(self.device), noise_mode="const")
            reading = predict_factors(images, self.regressor)
            for f in AMOUNTS:
                out[f].append(getattr(reading, f).double().cpu())
        return {f: torch.cat(v) for f, v in out.items()}


def _measure(read: Reader, direction: FactorDirection, codes, before) -> tuple[dict, torch.Tensor]:
    """What strength 1.0 does to held-out ``codes``: the factor's mean / std change and
    the mean absolute change of every other factor (px, degrees); and the edited codes."""
    from dynode_editors.supervised import SupervisedEditor

    edited = SupervisedEditor().apply(codes, direction, 1.0)  # the editor's own move
    after = read(edited)
    factor = direction.factor
    moved = _change(factor, after[factor], before[factor])
    others = {f"{f}_abs_change": float(_change(f, after[f], before[f]).abs().mean()
                                       * REPORT_UNITS[f]) for f in AMOUNTS if f != factor}
    return {"measured_mean": float(moved.mean()), "measured_std": float(moved.std()),
            **others}, edited


def fit_linear(factor, w_train, labels, w_test, read, before, rounds: int = 3):
    """The ridge normal of ``factor`` in W, its latent distance per strength calibrated
    (a secant start from +/- one spread, then rescaled while the response bends)."""
    from dynode_editors.supervised import fit_boundary

    normal, model = fit_boundary(w_train.numpy(), labels.numpy(), "ridge")
    normal = normal.float()
    codes = w_test.unsqueeze(1).expand(-1, read.generator.num_ws, -1)
    step = float((w_test @ normal).std())
    slope = float((read(codes + step * normal)[factor] - read(codes - step * normal)[factor])
                  .mean()) / (2 * step)
    info = {"kind": "linear", "factor": factor, "amount": AMOUNTS[factor],
            "scale": AMOUNTS[factor] / slope, "train_r2": model.score(w_train.numpy(), labels.numpy())}
    tried = []
    for _ in range(rounds):  # the response bends: rescale, keep the scale that came closest
        found, _ = _measure(read, build_direction(factor, normal, info, None), codes, before)
        tried.append((abs(found["measured_mean"] - info["amount"]), info["scale"], found))
        if tried[-1][0] < 0.05 * info["amount"] or found["measured_mean"] <= 0:
            break
        info["scale"] *= float(np.clip(info["amount"] / found["measured_mean"], 0.5, 2.0))
    _, info["scale"], found = min(tried, key=lambda t: t[0])
    info.update(found)
    return normal, info


def fit_guided(factor, w_test, read, before, network):
    """A guided edit of ``factor`` with ``network``, measured on ``w_test``; its vector is
    the principal direction of the offsets it made there."""
    import time

    codes = w_test.unsqueeze(1).expand(-1, read.generator.num_ws, -1)
    info = {"kind": "guided", "factor": factor, "amount": AMOUNTS[factor]}
    start = time.perf_counter()
    found, edited = _measure(read, build_direction(factor, torch.zeros(w_test.shape[1]), info,
                                                   network, read.generator), codes, before)
    info["seconds_per_code"] = (time.perf_counter() - start) / len(codes)
    info.update(found)
    offsets = (edited - codes).mean(1).double()
    vector = torch.linalg.svd(offsets, full_matrices=False)[2][0]
    return (vector * torch.sign(vector @ offsets.mean(0) + 1e-12)).float(), info


def fit_directions(generator, network, samples: int = 4000, holdout: int = 512,
                   guided_holdout: int = 512, seed: int = 0,
                   progress=lambda text: None) -> tuple[dict, dict]:
    """(tensors, record per direction): guided edits (with ``network``) of every factor of
    :data:`AMOUNTS`, straight ``NAME-linear`` directions of the non-periodic ones."""
    from dynode_editors.vectors import sample_w

    w = sample_w(generator, samples + holdout, seed)
    read = Reader(generator)
    progress(f"reading {len(w)} samples")
    readings = read(w.unsqueeze(1).expand(-1, generator.num_ws, -1))
    train, test = slice(0, samples), slice(samples, None)
    before = {f: v[test] for f, v in readings.items()}
    tensors, record = {}, {}
    for factor in AMOUNTS:
        if factor not in PERIODIC:
            progress(f"fitting {factor}-linear")
            vector, record[f"{factor}-linear"] = fit_linear(
                factor, w[train], readings[factor][train], w[test], read, before)
            tensors[f"{factor}-linear.vector"] = vector
        progress(f"measuring the guided {factor} edit on {guided_holdout} codes")
        few = {f: v[:guided_holdout] for f, v in before.items()}
        tensors[f"{factor}.vector"], record[factor] = fit_guided(
            factor, w[test][:guided_holdout], read, few, network)
    return tensors, record
