"""Image-quality metrics for runs and benchmarks (torchmetrics PSNR / SSIM)."""

from __future__ import annotations

import numpy as np
import torch


def _unit(frames: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) uint8 -> (N, 3, H, W) float in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 255.0


class QualityMeter:
    """Mean PSNR (dB) and SSIM over frame pairs, accumulated batch by batch."""

    def __init__(self) -> None:
        from torchmetrics.image import PeakSignalNoiseRatio, StructuralSimilarityIndexMeasure

        self.psnr = PeakSignalNoiseRatio(data_range=1.0, reduction="none", dim=(1, 2, 3))
        self.ssim = StructuralSimilarityIndexMeasure(data_range=1.0, reduction="none")
        self.values: dict[str, list[torch.Tensor]] = {"psnr": [], "ssim": []}

    def update(self, predicted: np.ndarray, target: np.ndarray) -> None:
        if predicted.shape != target.shape:
            raise ValueError(f"frames differ in shape: {predicted.shape} vs {target.shape}")
        pred, targ = _unit(predicted), _unit(target)
        self.values["psnr"].append(self.psnr(pred, targ).reshape(-1).clamp(max=100.0))
        self.values["ssim"].append(self.ssim(pred, targ).reshape(-1))

    def compute(self) -> dict[str, float]:
        if not self.values["psnr"]:
            return {}
        return {name: float(torch.cat(vals).mean()) for name, vals in self.values.items()}

    def per_frame(self, digits: int = 4) -> dict[str, list[float]]:
        """Every frame's PSNR and SSIM in the order seen, rounded to ``digits``."""
        return {name: [round(float(v), digits) for v in torch.cat(vals)] if vals else []
                for name, vals in self.values.items()}


def psnr_ssim(predicted: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """Mean per-frame PSNR and SSIM of two (N, H, W, 3) uint8 arrays."""
    meter = QualityMeter()
    meter.update(predicted, target)
    return meter.compute()
