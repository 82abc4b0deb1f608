"""Run reports: the trajectory plot (the paper's picture) and the summary table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch


def _pca_basis(observed: torch.Tensor, k: int = 2):
    x = observed.reshape(len(observed), -1).double()
    mean = x.mean(0)
    _, _, vh = torch.linalg.svd(x - mean, full_matrices=False)
    return mean, vh[:k]


def _project(codes: torch.Tensor, mean, basis) -> np.ndarray:
    return ((codes.reshape(len(codes), -1).double() - mean) @ basis.T).numpy()


def trajectory_plot(path, *, observed_times, observed, path_times, fitted, linear=None,
                    edited=None, samples=None, title: str = "") -> Path:
    """Write a PNG: left, the 2-D PCA plane of the observed codes with the fitted path,
    the straight-line path and the edited path; right, the first component over
    time, with the spread of SDE ``samples`` (n, N, L, D) as a 5-95 % band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..io import atomic_path

    mean, basis = _pca_basis(observed)
    obs2 = _project(observed, mean, basis)
    fig, (ax, ax_t) = plt.subplots(1, 2, figsize=(11, 4.5))
    curves = [("fitted path", fitted, "C0", "-"), ("straight lines", linear, "0.5", "--"),
              ("edited path", edited, "C3", "-")]
    if samples is not None:
        for i, sample in enumerate(samples):
            pts = _project(sample, mean, basis)
            ax.plot(pts[:, 0], pts[:, 1], color="C2", alpha=0.25, lw=0.8,
                    label="SDE samples" if i == 0 else None)
        pc1 = np.stack([_project(s, mean, basis)[:, 0] for s in samples])
        lo, hi = np.percentile(pc1, [5, 95], axis=0)
        ax_t.fill_between(np.asarray(path_times), lo, hi, color="C2", alpha=0.25,
                          label="SDE 5-95 %")
    for label, codes, color, style in curves:
        if codes is None:
            continue
        pts = _project(codes, mean, basis)
        times = observed_times if codes.shape[0] == observed.shape[0] else path_times
        ax.plot(pts[:, 0], pts[:, 1], style, color=color, label=label, lw=1.5)
        ax_t.plot(np.asarray(times), pts[:, 0], style, color=color, label=label, lw=1.5)
    ax.scatter(obs2[:, 0], obs2[:, 1], c=np.asarray(observed_times), cmap="viridis", s=18,
               zorder=3, label="observed codes")
    ax_t.scatter(np.asarray(observed_times), obs2[:, 0], color="k", s=10, zorder=3,
                 label="observed")
    ax.set(xlabel="PC 1", ylabel="PC 2", title=title or "latent trajectory (PCA of observed codes)")
    ax_t.set(xlabel="time (s)", ylabel="PC 1", title="first component over time")
    ax.legend(fontsize=8)
    ax_t.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    return Path(path)


def summary_table(metrics: dict):
    """A rich table of per-stage time and memory plus the headline metrics."""
    from rich.table import Table

    table = Table(title="dynode run")
    table.add_column("stage")
    table.add_column("seconds", justify="right")
    table.add_column("peak RSS (MiB)", justify="right")
    for stage, info in metrics.get("stages", {}).items():
        table.add_row(stage, f"{info['seconds']:.2f}", f"{info['peak_rss_mb']:.0f}")
    for key in ("reconstruction_psnr", "reconstruction_ssim", "fit_loss", "total_seconds"):
        value = metrics.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            table.add_row(key, f"{value:.4g}", "")
    return table
