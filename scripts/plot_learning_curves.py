"""Plot learning curves of the shapes models' training logs (``log.jsonl``) to one PNG.

    PYTHONPATH=.:plugins python scripts/plot_learning_curves.py \\
        --gan /work/train_out/log.jsonl --regressor /work/regressor_out/log.jsonl \\
        --encoder /work/encoder_out/log.jsonl --out docs/images/learning-curves.png

Each log given adds one panel (GAN losses and scores; regressor held-out position
error; encoder held-out PSNR). Values are plotted as logged (GAN rows are means
over ``--log-every`` steps).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

#: panel -> (title, x key, [(y key, label)], y scale); a key "a.b" reads row["a"]["b"].
PANELS = {
    "gan": ("shapes64 GAN (train_shapes_gan.py)", "kimg",
            [("d_loss", "D loss"), ("g_loss", "G loss"), ("real_score", "D(real)"),
             ("fake_score", "D(fake)"), ("recon_l1", "reconstruction L1")], "linear"),
    "regressor": ("factor regressor, held-out", "step",
                  [("heldout.position_rms_px", "position RMS (px)"),
                   ("heldout.size_rms_px", "size RMS (px)"),
                   ("heldout.rotation_rms_deg", "rotation RMS (deg)"),
                   ("heldout.hue_rms_deg", "hue RMS (deg)")], "log"),
    "encoder": ("shapes64-e4e encoder, held-out", "step",
                [("psnr_world", "PSNR world renders (dB)"),
                 ("psnr_samples", "PSNR generator samples (dB)")], "linear"),
}


def _get(row: dict, key: str):
    for part in key.split("."):
        if not isinstance(row, dict) or part not in row:
            return None
        row = row[part]
    return row


def broken(points: list, factor: float = 20.0) -> list:
    """``points`` with a NaN break where x jumps more than ``factor`` x the median step (a
    phase of training that did not log this series)."""
    steps = sorted(b[0] - a[0] for a, b in zip(points, points[1:]))
    if not steps:
        return points
    limit, out = factor * steps[len(steps) // 2], points[:1]
    for a, b in zip(points, points[1:]):
        if b[0] - a[0] > limit:
            out.append((a[0], float("nan")))
        out.append(b)
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for name in PANELS:
        p.add_argument(f"--{name}", type=Path, default=None, help=f"{name} log.jsonl")
    p.add_argument("--out", type=Path, required=True, help="PNG to write")
    args = p.parse_args(argv)
    logs = {name: getattr(args, name) for name in PANELS if getattr(args, name)}
    if not logs:
        p.error("give at least one of " + ", ".join(f"--{n}" for n in PANELS))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dynode_core.io import atomic_path

    fig, axes = plt.subplots(1, len(logs), figsize=(5 * len(logs), 3.6), squeeze=False)
    for ax, (name, path) in zip(axes[0], logs.items()):
        title, x_key, series, scale = PANELS[name]
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        for key, label in series:
            points = [(_get(r, x_key), _get(r, key)) for r in rows]
            points = [(x, y) for x, y in points if x is not None and y is not None]
            if points:
                ax.plot(*zip(*broken(points)), label=label, lw=1.2)
        ax.set(title=title, xlabel=x_key, yscale=scale)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(args.out) as tmp:
        fig.savefig(tmp, dpi=90)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
