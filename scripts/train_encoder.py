"""Train an e4e-style encoder into a generator's W+ (seeded, resumable), e.g. for ``shapes64``.

The encoder is the inversion plugin's :class:`~dynode_inversion.encoder.StyleEncoder`
(``Encoder4Editing`` forward; small depth/width for 64 px; ``num_ws`` and ``style_dim``
from the generator; ``latent_avg`` = the generator's mean latent). Each step trains on

- the generator's own samples (style-mixed W+ codes, so the codes are known): a
  latent loss (MSE over the codes' variance) plus the image loss, and
- world renders (i.i.d. factors; no codes): the image loss through the frozen generator,

image loss = pixel MSE (images in [-1, 1]) + ``--ssim-weight`` * (1 - SSIM).
``OUT/checkpoint.pt`` (encoder, optimiser, step, RNG states) is written atomically;
``OUT/log.jsonl`` holds losses and held-out PSNR; ``OUT/samples/step-N.png`` shows
targets and reconstructions. ``--export`` writes safetensors + JSON (``dynode.encoder/1``).

    PYTHONPATH=.:plugins python scripts/train_encoder.py --generator shapes64 \\
        --out /work/encoder_out --steps 2000 \\
        --export plugins/dynode_shapes/weights/shapes64-e4e.safetensors
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [p for p in (str(ROOT), str(ROOT / "plugins")) if p not in sys.path]

from dynode_core.io import atomic_path, atomic_write_text  # noqa: E402
from dynode_core.render import contact_sheet, to_uint8  # noqa: E402
from dynode_inversion.checkpoint import save_encoder  # noqa: E402
from dynode_inversion.encoder import EncoderConfig, StyleEncoder  # noqa: E402
from dynode_inversion.optim import ssim_loss  # noqa: E402
from dynode_shapes.world import render, sample_factors  # noqa: E402

FORMAT = "dynode.encoder-train/1"
HELDOUT_SEED = 31_337


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, required=True, help="run folder (outside git)")
    p.add_argument("--generator", default="shapes64", help="registered generator name")
    p.add_argument("--checkpoint", default=None, help="generator checkpoint (default: bundled)")
    p.add_argument("--steps", type=int, default=2000, help="train until this many steps")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    p.add_argument("--batch", type=int, default=8, help="generator samples and world renders each")
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--units", default="1,1,1,1", help="IR-SE units per stage")
    p.add_argument("--width", type=float, default=0.25, help="stage widths x (64,128,256,512)")
    p.add_argument("--latent-weight", type=float, default=1.0)
    p.add_argument("--ssim-weight", type=float, default=0.5)
    p.add_argument("--mixing", type=float, default=0.9, help="style-mixing probability of samples")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--eval-every", type=int, default=100)
    p.add_argument("--sample-every", type=int, default=100)
    p.add_argument("--ckpt-every", type=int, default=50)
    p.add_argument("--export", type=Path, default=None,
                   help="write the encoder here (.safetensors + .json) when training ends")
    p.add_argument("--export-dtype", choices=("float16", "float32"), default="float16",
                   help="storage precision of the export (it loads as float32 either way)")
    return p.parse_args(argv)


def sample_codes(generator, n: int, mixing: float, gen: torch.Generator) -> torch.Tensor:
    """W+ codes of ``n`` random z, each style-mixed at a random layer with probability ``mixing``."""
    device = generator.latent_avg.device
    z = torch.randn(2, n, generator.latent_dim, generator=gen).to(device)
    w = generator.broadcast(generator.mapping(z[0]))
    other = generator.broadcast(generator.mapping(z[1]))
    cut = torch.randint(1, generator.num_ws, (n,), generator=gen)
    unmixed = torch.full_like(cut, generator.num_ws)
    cut = torch.where(torch.rand(n, generator=gen) < mixing, cut, unmixed)
    layer = torch.arange(generator.num_ws)[None, :, None]
    return torch.where((layer < cut[:, None, None]).to(device), w, other)


def world_images(n: int, gen: torch.Generator, device) -> torch.Tensor:
    return render(sample_factors(n, generator=gen), device=device) * 2 - 1


def image_loss(images, target, ssim_weight: float) -> torch.Tensor:
    loss = (images - target).square().flatten(1).mean(1)
    return loss + ssim_weight * ssim_loss(images, target) if ssim_weight else loss


def psnr(images, target) -> torch.Tensor:
    """PSNR (dB) per image of images in [-1, 1] (data range 1 after mapping to [0, 1])."""
    mse = ((images.clamp(-1, 1) - target) / 2).square().flatten(1).mean(1)
    return -10 * torch.log10(mse.clamp_min(1e-10))


class Trainer:
    """One training run: the frozen generator, the encoder, the optimiser and the data RNGs."""

    def __init__(self, args, generator, encoder: StyleEncoder):
        self.args, self.g, self.encoder = args, generator, encoder
        self.opt = torch.optim.Adam(encoder.parameters(), lr=args.lr)
        self.gens = {"codes": torch.Generator().manual_seed(args.seed + 1),
                     "world": torch.Generator().manual_seed(args.seed + 2)}
        with torch.no_grad():
            self.w_var = float(sample_codes(generator, 2048, 0.0, torch.Generator().manual_seed(0))
                               [:, 0].var(0).mean())
        self.step = 0

    def train_step(self) -> dict[str, float]:
        a, device = self.args, self.g.latent_avg.device
        with torch.no_grad():
            codes = sample_codes(self.g, a.batch, a.mixing, self.gens["codes"])
            samples = self.g.synthesize(codes, noise_mode="const")
        world = world_images(a.batch, self.gens["world"], device)
        targets = torch.cat([samples, world])
        predicted = self.encoder(targets)
        recon = self.g.synthesize(predicted, noise_mode="const")
        latent = (predicted[:a.batch] - codes).square().mean() / self.w_var
        per_image = image_loss(recon, targets, a.ssim_weight)
        terms = {"latent": a.latent_weight * latent, "image_samples": per_image[:a.batch].mean(),
                 "image_world": per_image[a.batch:].mean()}
        self.opt.zero_grad(set_to_none=True)
        sum(terms.values()).backward()
        self.opt.step()
        self.step += 1
        return {k: v.item() for k, v in terms.items()}

    @torch.no_grad()
    def heldout(self, n: int = 16):
        """Targets, reconstructions and PSNR of fixed world renders and generator samples."""
        self.encoder.eval()
        device = self.g.latent_avg.device
        world = world_images(n, torch.Generator().manual_seed(HELDOUT_SEED), device)
        codes = sample_codes(self.g, n, 0.0, torch.Generator().manual_seed(HELDOUT_SEED))
        samples = self.g.synthesize(codes, noise_mode="const")
        out = {}
        for name, target in (("world", world), ("samples", samples)):
            recon = self.g.synthesize(self.encoder(target), noise_mode="const")
            out[name] = (target, recon, float(psnr(recon, target).mean()))
        self.encoder.train()
        return out

    def state(self) -> dict:
        return {"format": FORMAT, "step": self.step, "config": self.encoder.config.to_dict(),
                "encoder": self.encoder.state_dict(), "opt": self.opt.state_dict(),
                "rng": {k: g.get_state() for k, g in self.gens.items()},
                "generator": {"name": self.args.generator, "checkpoint": self.args.checkpoint}}

    def load(self, state: dict) -> None:
        """Restore a run; the encoder starts from the current generator's mean latent
        (it differs when the generator was re-exported since: fine-tuning then adapts)."""
        self.encoder.load_state_dict(state["encoder"])
        mean = self.g.mean_latent()[None].to(self.encoder.latent_avg)
        if not torch.allclose(self.encoder.latent_avg, mean):
            print("the generator's mean latent changed since this checkpoint: fine-tuning the "
                  "encoder to the current generator", flush=True)
            self.encoder.latent_avg.copy_(mean)
        self.opt.load_state_dict(state["opt"])
        for k, g in self.gens.items():
            g.set_state(state["rng"][k])
        self.step = state["step"]


def build_encoder(args, generator, config: dict | None = None) -> StyleEncoder:
    cfg = EncoderConfig.from_dict(config) if config else EncoderConfig(
        encoder_type="Encoder4Editing", num_ws=generator.num_ws, style_dim=generator.latent_dim,
        input_size=generator.resolution, units=tuple(int(u) for u in args.units.split(",")),
        width=args.width, extra={"generator": args.generator})
    return StyleEncoder(cfg, generator.mean_latent()[None]).to(generator.latent_avg.device)


def write_samples(trainer: Trainer, path: Path) -> dict[str, float]:
    held = trainer.heldout()
    rows = []
    for name, (target, recon, _) in held.items():
        rows += [(name, to_uint8(target[:8])), (f"{name} recon", to_uint8(recon[:8]))]
    contact_sheet(rows, path, columns=8)
    return {f"psnr_{name}": value for name, (_, _, value) in held.items()}


def main(argv=None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    from dynode_core.plugins import get_registry

    generator = get_registry().create("generators", args.generator, checkpoint=args.checkpoint,
                                      device=args.device)
    generator.requires_grad_(False).eval()
    ckpt_path = args.out / "checkpoint.pt"
    if ckpt_path.exists() and not args.resume:
        raise SystemExit(f"{ckpt_path} exists: pass --resume or choose another --out")
    state = torch.load(ckpt_path, map_location=args.device, weights_only=True) \
        if args.resume and ckpt_path.exists() else None
    if state is not None and state.get("format") != FORMAT:
        raise SystemExit(f"{ckpt_path}: not a {FORMAT} checkpoint")
    encoder = build_encoder(args, generator, state["config"] if state else None).train()
    trainer = Trainer(args, generator, encoder)
    if state is not None:
        trainer.load(state)
        print(f"resumed from {ckpt_path} at step {trainer.step}", flush=True)
    (args.out / "samples").mkdir(parents=True, exist_ok=True)
    n_params = sum(p.numel() for p in encoder.parameters())
    print(f"encoder {json.dumps(encoder.config.to_dict())}: {n_params:,} parameters; generator "
          f"{args.generator} ({generator.num_ws} x {generator.latent_dim}); threads {args.threads}",
          flush=True)

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    sums, count, t0 = {}, 0, time.perf_counter()
    columns = (TextColumn("encoder"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[info]}"), TimeRemainingColumn())
    with Progress(*columns) as progress, (args.out / "log.jsonl").open("a") as log:
        task = progress.add_task("train", total=args.steps, completed=trainer.step, info="")
        while trainer.step < args.steps:
            for k, v in trainer.train_step().items():
                sums[k] = sums.get(k, 0.0) + v
            count += 1
            step = trainer.step
            progress.update(task, completed=step)
            row = {}
            if step % args.log_every == 0 or step == args.steps:
                row = {"s_per_step": (time.perf_counter() - t0) / count,
                       **{f"loss_{k}": v / count for k, v in sums.items()}}
                progress.update(task, info=" ".join(f"{k[5:]} {v:.3f}" for k, v in row.items()
                                                    if k.startswith("loss_")))
                sums, count, t0 = {}, 0, time.perf_counter()
            if step % args.sample_every == 0 or step % args.eval_every == 0 or step == args.steps:
                row.update(write_samples(trainer, args.out / "samples" / f"step-{step:07d}.png"))
                progress.console.print(f"step {step} held-out PSNR: world {row['psnr_world']:.2f} dB,"
                                       f" samples {row['psnr_samples']:.2f} dB")
            if row:
                log.write(json.dumps({"step": step, "time": time.time(), **row}) + "\n")
                log.flush()
            if step % args.ckpt_every == 0 or step == args.steps:
                with atomic_path(ckpt_path) as tmp, open(tmp, "wb") as fh:
                    torch.save(trainer.state(), fh)  # no random temporary name inside the zip
    if args.export is not None:
        export(trainer, args)


def export(trainer: Trainer, args) -> None:
    """Save the encoder (``--export-dtype`` storage) and record held-out PSNR of the export."""
    import copy

    from dynode_inversion.checkpoint import load_encoder

    stored = copy.deepcopy(trainer.encoder).eval().to(getattr(torch, args.export_dtype))
    path = save_encoder(stored, args.export)
    trainer.encoder = load_encoder(path, args.device)  # score what was written
    scores = {k: v[2] for k, v in trainer.heldout(64).items()}
    sidecar = path.with_suffix(".json")
    record = {**json.loads(sidecar.read_text()), "generator": args.generator,
              "training": {"script": "scripts/train_encoder.py", "steps": trainer.step,
                           "batch": args.batch, "lr": args.lr, "seed": args.seed,
                           "storage_dtype": args.export_dtype,
                           "generator_checkpoint": args.checkpoint},
              "heldout_psnr_db": {"world_renders": scores["world"],
                                  "generator_samples": scores["samples"],
                                  "images": 64, "seed": HELDOUT_SEED}}
    if args.generator == "shapes64" and args.checkpoint is None:  # which export it was fitted to
        from dynode_shapes.models import GENERATOR_WEIGHTS

        card = json.loads(GENERATOR_WEIGHTS.with_suffix(".json").read_text()).get("training", {})
        record["training"]["generator_export"] = {k: card.get(k) for k in ("checkpoint", "step", "kimg")}
    atomic_write_text(sidecar, json.dumps(record, indent=2) + "\n")
    print(f"exported {path} ({path.stat().st_size / 2 ** 20:.1f} MiB); held-out PSNR "
          f"{json.dumps(record['heldout_psnr_db'])}")


if __name__ == "__main__":
    main()
