"""Train the guided-edit network of a shapes-world generator (seeded, resumable).

The network (:class:`dynode_shapes.edit_network.EditNetwork`) maps (W+ code, the
regressor's reading of its render, strength, factor) to an offset. Each step takes a batch of codes from a fixed pool (half the
generator's own style-mixed samples, half the bundled e4e encoder's codes of world
renders, i.e. the codes an inverted video has), splits it evenly over the factors,
draws a strength per code uniformly in [-STRENGTH, STRENGTH], renders the moved
codes and minimises :func:`dynode_shapes.edit_network.guided_loss` through the frozen
generator and regressor. ``OUT/checkpoint.pt`` (network, optimiser, step, RNG
state) is written atomically every ``--ckpt-every`` steps; ``OUT/log.jsonl`` holds
the losses.

    PYTHONPATH=.:plugins python scripts/train_guided_edits.py --out /work/guided \\
        --steps 5000 --export plugins/dynode_shapes/weights/shapes64-guided.safetensors
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [p for p in (str(ROOT), str(ROOT / "plugins")) if p not in sys.path]

from dynode_core.io import atomic_path  # noqa: E402
from dynode_core.plugins import get_registry  # noqa: E402
from dynode_shapes.directions import AMOUNTS, weights_sha256  # noqa: E402
from dynode_shapes.edit_network import (FACTORS, EditConfig, EditNetwork,  # noqa: E402
                                        features, guided_loss, readings, save_network)
from dynode_shapes.models import ENCODER_WEIGHTS, GENERATOR_WEIGHTS  # noqa: E402
from dynode_shapes.regressor import load_regressor  # noqa: E402

STRENGTH = 1.5


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, required=True, help="run folder (outside git)")
    p.add_argument("--steps", type=int, default=5000,
                   help="train until this many steps (the learning-rate schedule spans them)")
    p.add_argument("--stop-at", type=int, default=None,
                   help="stop at this step this time (checkpointed; run again to go on)")
    p.add_argument("--batch", type=int, default=60, help="codes per step (split over factors)")
    p.add_argument("--pool", type=int, default=8192, help="codes in the training pool")
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--ckpt-every", type=int, default=50)
    p.add_argument("--export", type=Path, default=None, help="write the network here when done")
    return p.parse_args(argv)


@torch.no_grad()
def code_pool(generator, n: int, seed: int) -> torch.Tensor:
    """``n // 2`` style-mixed generator samples and ``n - n // 2`` encoder codes of world renders."""
    from dynode_inversion.checkpoint import load_encoder
    from dynode_shapes.world import render, sample_factors

    gen = torch.Generator().manual_seed(seed)
    half = n // 2
    z = torch.randn(2, half, generator.latent_dim, generator=gen)
    w, other = (generator.broadcast(generator.mapping(part)) for part in z)
    cut = torch.randint(1, generator.num_ws + 1, (half,), generator=gen)  # num_ws: no mixing
    layer = torch.arange(generator.num_ws)[None, :, None]
    samples = torch.where(layer < cut[:, None, None], w, other)
    encoder = load_encoder(ENCODER_WEIGHTS).eval()
    images = render(sample_factors(n - half, generator=gen)) * 2 - 1
    encoded = torch.cat([encoder(chunk) for chunk in images.split(64)])
    return torch.cat([samples, encoded]).float()


class Trainer:
    def __init__(self, args) -> None:
        self.args = args
        self.g = get_registry().create("generators", "shapes64").eval().requires_grad_(False)
        self.regressor = load_regressor("cpu").eval().requires_grad_(False)
        self.codes = code_pool(self.g, args.pool, args.seed)
        with torch.no_grad():
            self.before = [self.read(chunk) for chunk in self.codes.split(256)]
        self.before = {k: torch.cat([b[k] for b in self.before]) for k in self.before[0]}
        self.features = features(self.before)
        config = EditConfig(self.g.num_ws, self.g.latent_dim, args.hidden)
        torch.manual_seed(args.seed)
        self.net = EditNetwork(config)
        self.net.w_avg.copy_(self.codes.mean((0, 1)))
        self.net.w_std.copy_(self.codes.std())
        self.opt = torch.optim.Adam(self.net.parameters(), lr=args.lr)
        self.rng = torch.Generator().manual_seed(args.seed + 1)
        self.step = 0

    def read(self, codes: torch.Tensor) -> dict:
        return readings(self.regressor(self.g.synthesize(codes, noise_mode="const")))

    def train_step(self) -> dict[str, float]:
        a = self.args
        per = a.batch // len(FACTORS)
        index = torch.randint(0, len(self.codes), (per * len(FACTORS),), generator=self.rng)
        factor = torch.arange(len(FACTORS)).repeat_interleave(per)
        strength = (torch.rand(len(index), generator=self.rng) * 2 - 1) * STRENGTH
        codes = self.codes[index]
        offset = self.net(codes, self.features[index], strength, factor)
        now = self.read(codes + offset)
        terms = {}
        for i, name in enumerate(FACTORS):
            rows = factor == i
            change = strength[rows] * AMOUNTS[name]
            terms[name] = guided_loss({k: v[rows] for k, v in now.items()},
                                      {k: v[index[rows]] for k, v in self.before.items()},
                                      name, change, offset[rows]).mean()
        for group in self.opt.param_groups:  # cosine decay to 5% of --lr
            group["lr"] = a.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * self.step / a.steps)))
        self.opt.zero_grad(set_to_none=True)
        (sum(terms.values()) / len(terms)).backward()
        self.opt.step()
        self.step += 1
        return {k: v.item() for k, v in terms.items()}

    def state(self) -> dict:
        return {"net": self.net.state_dict(), "opt": self.opt.state_dict(), "step": self.step,
                "rng": self.rng.get_state(), "args": vars(self.args) | {"out": str(self.args.out),
                                                                        "export": None}}

    def load(self, state: dict) -> None:
        self.net.load_state_dict(state["net"])
        self.opt.load_state_dict(state["opt"])
        self.rng.set_state(state["rng"])
        self.step = state["step"]


def main(argv=None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    trainer = Trainer(args)
    ckpt = args.out / "checkpoint.pt"
    if ckpt.is_file():
        trainer.load(torch.load(ckpt, weights_only=True))
    start, log = time.perf_counter(), (args.out / "log.jsonl").open("a")
    stop = args.steps if args.stop_at is None else min(args.stop_at, args.steps)
    while trainer.step < stop:
        terms = trainer.train_step()
        log.write(json.dumps({"step": trainer.step, **terms}) + "\n")
        if trainer.step % args.ckpt_every == 0 or trainer.step == args.steps:
            log.flush()
            with atomic_path(ckpt) as tmp:
                torch.save(trainer.state(), tmp)
            print(f"step {trainer.step} {time.perf_counter() - start:.0f}s "
                  + " ".join(f"{k}={v:.3f}" for k, v in terms.items()), flush=True)
    if args.export and trainer.step == args.steps:
        save_network(trainer.net, args.export, generator_sha256=weights_sha256(GENERATOR_WEIGHTS),
                     steps=trainer.step, batch=args.batch, pool=args.pool, lr=args.lr,
                     seed=args.seed, strength_range=STRENGTH)


if __name__ == "__main__":
    main()
