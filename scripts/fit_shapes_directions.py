"""Fit the named edit directions of ``shapes64`` (x, y, size, hue, bg_hue) from the
factor regressor's readings of generator samples, calibrated so that strength 1.0
moves each factor by :data:`dynode_shapes.directions.AMOUNTS` on average.

Writes ``plugins/dynode_shapes/weights/shapes64-directions.safetensors`` + ``.json``
(with the SHA-256 of the generator weights they fit: re-run after re-exporting).

    PYTHONPATH=.:plugins python scripts/fit_shapes_directions.py --samples 4000
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [p for p in (str(ROOT), str(ROOT / "plugins"), str(ROOT / "scripts"))
                if p not in sys.path]

from dynode_shapes.directions import save_directions, weights_sha256  # noqa: E402
from dynode_shapes.models import DIRECTIONS, GENERATOR_WEIGHTS, GUIDED_NETWORK  # noqa: E402


def main(argv=None) -> None:
    import torch

    from dynode_core.provenance import versions
    from shapes_fit_directions import fit_directions
    from dynode_shapes.edit_network import load_network
    from dynode_stylegan2.loader import load_generator

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", type=Path, default=GENERATOR_WEIGHTS, help="generator export")
    p.add_argument("--out", type=Path, default=DIRECTIONS)
    p.add_argument("--samples", type=int, default=4000, help="labelled samples to fit on")
    p.add_argument("--holdout", type=int, default=512, help="samples to calibrate and measure on")
    p.add_argument("--guided-holdout", type=int, default=512,
                   help="samples to measure the guided edits on")
    p.add_argument("--guided-network", type=Path, default=GUIDED_NETWORK,
                   help="the guided edits' network (scripts/train_guided_edits.py), beside --out")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    generator = load_generator(args.weights).eval().requires_grad_(False)
    network, trained = load_network(args.guided_network)
    if trained["generator_sha256"] != weights_sha256(args.weights):
        p.error(f"{args.guided_network} was trained on other generator weights")
    start = time.perf_counter()
    tensors, directions = fit_directions(generator, network, args.samples, args.holdout, args.guided_holdout, args.seed,
                                         progress=lambda text: print(text, flush=True))
    record = {"generator": args.weights.name, "generator_sha256": weights_sha256(args.weights),
              "samples": args.samples, "holdout": args.holdout, "seed": args.seed,
              "seconds": round(time.perf_counter() - start, 1), "versions": versions(),
              "guided_network": args.guided_network.name, "directions": directions}
    save_directions(args.out, tensors, record)
    for name, info in directions.items():
        print(f"{name:11s} {info['kind']:6s} amount {info['amount']:g}: measured "
              f"{info['measured_mean']:.4f} +/- {info['measured_std']:.4f}")
    print(f"wrote {args.out} in {record['seconds']} s")


if __name__ == "__main__":
    main()
