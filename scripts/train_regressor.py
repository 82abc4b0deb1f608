"""Train the shapes world's factor regressor on fresh i.i.d. renders (seeded, resumable).

Every step renders a new batch from the world sampler (``sample_factors``), with
light augmentation (pixel noise, a random partial blur: neither moves the
object's centre) so that it also reads slightly soft GAN samples. Losses: shape
cross-entropy, smooth-L1 on position and size in pixels, MSE on (cos, sin) of
``k * rotation`` (per shape symmetry) and of both hues. Checkpoints (model,
optimiser, step, RNG states) go atomically to ``OUT/checkpoint.pt``; the log to
``OUT/log.jsonl``; held-out errors (a fixed set of renders from another seed) are
logged every ``--eval-every`` steps. ``--export`` writes the weights as
safetensors + JSON (format ``dynode.regressor/1``) with the held-out errors.

    PYTHONPATH=.:plugins python scripts/train_regressor.py --out /work/regressor_out --steps 3000 \\
        --export plugins/dynode_shapes/weights/regressor.safetensors
    ... --resume   continues from OUT/checkpoint.pt (e.g. with a larger --steps)
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [p for p in (str(ROOT), str(ROOT / "plugins")) if p not in sys.path]

from dynode_core.io import atomic_path  # noqa: E402
from dynode_shapes.factor_errors import factor_errors  # noqa: E402
from dynode_shapes.regressor import (SYMMETRY, FactorRegressor, RegressorConfig, decode,  # noqa: E402
                                     save_regressor)
from dynode_shapes.world import RESOLUTION, render, sample_factors  # noqa: E402

FORMAT = "dynode.regressor-train/1"
HELDOUT_SEED = 20_240_601


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, required=True, help="run folder (outside git)")
    p.add_argument("--steps", type=int, default=3000, help="train until this many steps")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--widths", default="24,48,96,128")
    p.add_argument("--no-augment", dest="augment", action="store_false")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--log-every", type=int, default=25)
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--eval-n", type=int, default=1000, help="held-out renders per evaluation")
    p.add_argument("--ckpt-every", type=int, default=100)
    p.add_argument("--export-eval-n", type=int, default=2000,
                   help="held-out renders evaluated for the exported JSON")
    p.add_argument("--export", type=Path, default=None, help="write the trained weights here "
                   "(.safetensors + .json) when training ends")
    return p.parse_args(argv)


def lr_at(step: int, steps: int, lr: float, warmup: int = 100) -> float:
    """Linear warm-up, then a cosine decay to 2 % of ``lr`` at ``steps``."""
    if step < warmup:
        return lr * (step + 1) / warmup
    t = min(1.0, (step - warmup) / max(1, steps - warmup))
    return lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * t)))


def augment(images: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Per image: blend with a 3x3 binomial blur (weight U(0, 1), half the images) and
    add Gaussian noise (sigma U(0, 0.04)). Images in [-1, 1]."""
    n = images.shape[0]
    kernel = torch.tensor([1.0, 2.0, 1.0], device=images.device)
    kernel = (kernel[:, None] * kernel[None, :] / 16).expand(3, 1, 3, 3)
    blurred = F.conv2d(F.pad(images, (1, 1, 1, 1), mode="replicate"), kernel, groups=3)
    amount = torch.rand(n, generator=gen) * (torch.rand(n, generator=gen) < 0.5)
    sigma = 0.04 * torch.rand(n, generator=gen)
    noise = torch.randn(images.shape, generator=gen)
    amount, sigma, noise = (t.to(images.device) for t in (amount, sigma, noise))
    amount, sigma = amount[:, None, None, None], sigma[:, None, None, None]
    return torch.lerp(images, blurred, amount) + sigma * noise


def _cs(angle: torch.Tensor) -> torch.Tensor:
    return torch.stack([torch.cos(angle), torch.sin(angle)], 1)


def losses(out: dict, f) -> dict[str, torch.Tensor]:
    """Per-term losses of raw outputs against factors ``f``."""
    xy = torch.stack([f.x, f.y], 1)
    terms = {"shape": F.cross_entropy(out["shape"], f.shape),
             "position": F.smooth_l1_loss(out["xy"] * RESOLUTION, xy * RESOLUTION),
             "size": F.smooth_l1_loss(out["size"] * RESOLUTION, f.size * RESOLUTION),
             "hue": 4 * F.mse_loss(out["hue"], _cs(2 * math.pi * f.hue)),
             "bg_hue": 4 * F.mse_loss(out["bg_hue"], _cs(2 * math.pi * f.bg_hue))}
    rot = out["size"].new_zeros(())
    for index, key in ((1, "square"), (2, "triangle")):
        rows = f.shape == index
        if rows.any():
            target = _cs(SYMMETRY[index] * f.rotation[rows])
            rot = rot + 4 * F.mse_loss(out[key][rows], target, reduction="sum") / (2 * len(f))
    terms["rotation"] = rot
    return terms


def batch(n: int, gen: torch.Generator, device):
    f = sample_factors(n, generator=gen)
    return f.to(device), render(f, device=device) * 2 - 1


@torch.no_grad()
def evaluate(model: FactorRegressor, n: int, device) -> dict[str, float]:
    """Errors on ``n`` held-out clean renders (a fixed seed no training batch uses)."""
    model.eval()
    f, images = batch(n, torch.Generator().manual_seed(HELDOUT_SEED), device)
    outs = [model(chunk) for chunk in images.split(250)]
    reading = decode({k: torch.cat([o[k] for o in outs]) for k in outs[0]})
    model.train()
    return factor_errors(reading, f)


def save_checkpoint(path: Path, model, opt, step, args, gens) -> None:
    state = {"format": FORMAT, "step": step, "config": asdict(model.config),
             "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
             "model": model.state_dict(), "opt": opt.state_dict(),
             "rng": {name: g.get_state() for name, g in gens.items()}}
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        torch.save(state, fh)  # a file object: no random temporary name inside the zip


def main(argv=None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    ckpt_path = args.out / "checkpoint.pt"
    if ckpt_path.exists() and not args.resume:
        raise SystemExit(f"{ckpt_path} exists: pass --resume or choose another --out")
    state = torch.load(ckpt_path, map_location=device, weights_only=True) \
        if args.resume and ckpt_path.exists() else None
    if state is not None and state.get("format") != FORMAT:
        raise SystemExit(f"{ckpt_path}: not a {FORMAT} checkpoint")
    config = RegressorConfig(**state["config"]) if state else \
        RegressorConfig(widths=tuple(int(w) for w in args.widths.split(",")))
    torch.manual_seed(args.seed)
    gens = {"data": torch.Generator().manual_seed(args.seed + 1),
            "augment": torch.Generator().manual_seed(args.seed + 2)}
    model = FactorRegressor(config).to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    step = 0
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        for name, g in gens.items():
            g.set_state(state["rng"][name])
        step = state["step"]
        print(f"resumed from {ckpt_path} at step {step}", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"regressor {asdict(config)}: {n_params:,} parameters; threads {args.threads}; "
          f"device {device}", flush=True)

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    sums, count, t0 = {}, 0, time.perf_counter()
    columns = (TextColumn("regressor"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[info]}"), TimeRemainingColumn())
    with Progress(*columns) as progress, (args.out / "log.jsonl").open("a") as log:
        task = progress.add_task("train", total=args.steps, completed=step, info="")
        while step < args.steps:
            for group in opt.param_groups:
                group["lr"] = lr_at(step, args.steps, args.lr)
            f, images = batch(args.batch, gens["data"], device)
            if args.augment:
                images = augment(images, gens["augment"])
            terms = losses(model(images), f)
            loss = sum(terms.values())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            for k, v in terms.items():
                sums[k] = sums.get(k, 0.0) + v.item()
            count += 1
            progress.update(task, completed=step)
            row = None
            if step % args.log_every == 0 or step == args.steps:
                row = {"step": step, "lr": lr_at(step - 1, args.steps, args.lr),
                       "s_per_step": (time.perf_counter() - t0) / count, "time": time.time(),
                       **{f"loss_{k}": v / count for k, v in sums.items()}}
                progress.update(task, info=f"pos {row['loss_position']:.3f} shape "
                                f"{row['loss_shape']:.3f} {row['s_per_step']:.2f} s/step")
                sums, count, t0 = {}, 0, time.perf_counter()
            if step % args.eval_every == 0 or step == args.steps:
                errors = evaluate(model, args.eval_n, device)
                row = {**(row or {"step": step, "time": time.time()}), "heldout": errors}
                progress.console.print(f"step {step} held-out: " + ", ".join(
                    f"{k} {v:.3f}" for k, v in errors.items()))
            if row is not None:
                log.write(json.dumps(row) + "\n")
                log.flush()
            if step % args.ckpt_every == 0 or step == args.steps:
                save_checkpoint(ckpt_path, model, opt, step, args, gens)
    if args.export is not None:
        errors = evaluate(model, args.export_eval_n, device)
        save_regressor(model.eval(), args.export, training={
            "script": "scripts/train_regressor.py", "steps": step, "batch": args.batch,
            "seed": args.seed, "augment": args.augment},
            heldout={"renders": args.export_eval_n, "seed": HELDOUT_SEED, **errors})
        print(f"exported {args.export}; held-out errors on {args.export_eval_n} renders: "
              f"{json.dumps(errors)}")


if __name__ == "__main__":
    main()
