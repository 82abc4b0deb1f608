"""Train a small StyleGAN2 on i.i.d. renders of the `shapes` world (64 px, CPU friendly).

Non-saturating logistic loss, lazy R1 on reals (every 16 steps), optional lazy
path-length regularisation, style mixing, an EMA generator with ramp-up (the steps are
``scripts/stylegan2_steps.py``), Adam (betas (0, 0.99)) with the lazy-regularisation
correction. Optionally (``--recon``, ``--adversarial 0`` for a supervised warm-up) an L1
loss ties G(z) to the render of ``dynode_shapes.world.latent_factors(z)``. Seeded and
resumable: every ``--ckpt-every`` steps the G, D, G_ema, optimisers, step and
RNG states go atomically to ``OUT/checkpoints/step-NNNNNNN.pt`` (loadable with
``torch.load(weights_only=True)``); ``--resume`` continues from the newest one
with the architecture stored there. ``OUT/log.jsonl`` holds the losses,
``OUT/samples/`` grids of a fixed z rendered by G_ema.

    PYTHONPATH=.:plugins python scripts/train_shapes_gan.py --out /work/train_out --steps 10000
    PYTHONPATH=.:plugins python scripts/train_shapes_gan.py --out /work/train_out --steps 10000 --resume
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [p for p in (str(ROOT), str(ROOT / "plugins"), str(ROOT / "scripts"))
                if p not in sys.path]

from dynode_core.io import atomic_path  # noqa: E402
from dynode_core.render import contact_sheet, to_uint8  # noqa: E402
from shapes_gan_targets import RECON_TARGETS, check_held, reconstruction_loss  # noqa: E402
from dynode_shapes.world import render, sample_factors  # noqa: E402
from dynode_stylegan2.discriminator import Discriminator  # noqa: E402
from dynode_stylegan2.model import StyleGAN2Generator  # noqa: E402
from shapes_checkpoints import TRAIN_FORMAT as FORMAT  # noqa: E402
from stylegan2_steps import d_step, g_step, update_ema  # noqa: E402

#: Options stored in a checkpoint; a resumed run takes them from there ...
CONFIG_KEYS = ("size", "channels", "d_channels", "style_dim", "n_mlp", "batch", "lr", "r1",
               "pl_weight", "mixing", "ema_kimg", "ema_rampup", "seed", "recon",
               "mapping_lr", "adversarial", "recon_target", "recon_hold")
#: ... except these, when given on the command line (e.g. a lower --lr later in training).
TUNABLE_KEYS = ("lr", "r1", "mixing", "ema_kimg", "ema_rampup", "recon", "mapping_lr",
                "adversarial", "recon_target", "recon_hold", "d_channels")
#: Losses shown on the progress line: (log key, label).
LOGGED = (("d_loss", "d"), ("g_loss", "g"), ("recon_l1", "l1"))
#: Values of keys that checkpoints from before the key existed ran with.
DEFAULTS = {"recon": 0.0, "mapping_lr": 1.0, "adversarial": 1.0, "recon_target": "render",
            "recon_hold": ""}


def parse_args(argv=None) -> tuple[argparse.Namespace, set[str]]:
    """The options, and the names of the tunable ones given explicitly."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, required=True, help="output folder (outside git)")
    p.add_argument("--steps", type=int, default=10000, help="train until this many steps")
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--channels", default="128,128,64,32,16",
                   help="generator widths at 4, 8, ..., size px")
    p.add_argument("--d-channels", default=None,
                   help="discriminator widths (default: --channels); changed on --resume, a new "
                        "discriminator starts from scratch beside the resumed generator")
    p.add_argument("--style-dim", type=int, default=128)
    p.add_argument("--n-mlp", type=int, default=4)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=0.0025)
    p.add_argument("--r1", type=float, default=1.0, help="R1 weight gamma (loss gamma/2 * |grad|^2)")
    p.add_argument("--pl-weight", type=float, default=0.0, help="path-length weight (0: off)")
    p.add_argument("--mixing", type=float, default=0.9, help="style-mixing probability")
    p.add_argument("--ema-kimg", type=float, default=10.0, help="G_ema half-life in kimg")
    p.add_argument("--ema-rampup", type=float, default=0.05,
                   help="half-life at most this fraction of the images seen (0: no ramp-up)")
    p.add_argument("--recon", type=float, default=0.0,
                   help="weight of an L1 loss tying G(z) to the render of latent_factors(z), object "
                        "pixels weighted up (0: off; G steps then skip style mixing)")
    p.add_argument("--recon-target", default="render", choices=sorted(RECON_TARGETS),
                   help="what --recon compares (scripts/shapes_gan_targets.py): the exact render, or "
                        "only the pixels every shape and rotation agree on")
    p.add_argument("--recon-hold", default="", type=held_factors,
                   help="comma-separated factors the --recon target holds at mid-range, e.g. "
                        "x,y,size,hue,bg_hue (a curriculum stage; '' releases them)")
    p.add_argument("--adversarial", type=float, default=1.0,
                   help="weight of G's adversarial loss (0: D is not trained; with --recon, a "
                        "supervised warm-up)")
    p.add_argument("--mapping-lr", type=float, default=1.0,
                   help="factor on the mapping network's learning rate (its equalised-lr "
                        "multiplier already slows it 100x)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--device", default="cpu")
    p.add_argument("--log-every", type=int, default=25)
    p.add_argument("--sample-every", type=int, default=250)
    p.add_argument("--ckpt-every", type=int, default=250)
    p.add_argument("--keep", type=int, default=3, help="checkpoints kept (plus every 2000th step)")
    args = p.parse_args(argv)
    p.set_defaults(**{k: None for k in TUNABLE_KEYS})
    given = {k for k, v in vars(p.parse_args(argv)).items() if k in TUNABLE_KEYS and v is not None}
    return args, given


def names(text: str) -> tuple[str, ...]:
    """``"a,b"`` -> ``("a", "b")``; ``""`` -> ``()``."""
    return tuple(n for n in text.split(",") if n)


def held_factors(text: str) -> str:
    try:
        return ",".join(check_held(names(text)))
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def widths(text: str, size: int) -> dict[int, int]:
    values = [int(v) for v in str(text).split(",")]
    res = [2 ** i for i in range(2, int(math.log2(size)) + 1)]
    if len(values) != len(res):
        raise SystemExit(f"need {len(res)} widths for {res} px, got {text!r}")
    return dict(zip(res, values))


def d_widths(cfg: dict) -> dict[int, int]:
    return widths(cfg.get("d_channels") or cfg["channels"], cfg["size"])


def build(cfg: dict, device):
    g = StyleGAN2Generator(cfg["size"], cfg["style_dim"], cfg["n_mlp"],
                           channels=widths(cfg["channels"], cfg["size"])).to(device)
    d = Discriminator(cfg["size"], channels=d_widths(cfg)).to(device)
    g_ema = copy.deepcopy(g).eval().requires_grad_(False)
    g_every, d_every = (4 if cfg["pl_weight"] > 0 else 1), 16
    mapping = list(g.style.parameters())
    ids = {id(p) for p in mapping}
    g_groups = [{"params": mapping}, {"params": [p for p in g.parameters() if id(p) not in ids]}]
    opts = [torch.optim.Adam(groups, betas=(0.0, 0.99 ** (every / (every + 1))))
            for groups, every in ((g_groups, g_every), (d.parameters(), d_every))]
    set_lrs(opts[0], opts[1], cfg, g_every, d_every)
    return g, d, g_ema, opts[0], opts[1], g_every, d_every


def set_lrs(g_opt, d_opt, cfg, g_every, d_every) -> None:
    """Learning rates with the lazy-regularisation correction; G's group 0 is the mapping."""
    for opt, every in ((g_opt, g_every), (d_opt, d_every)):
        for i, group in enumerate(opt.param_groups):
            scale = cfg["mapping_lr"] if opt is g_opt and i == 0 else 1.0
            group["lr"] = cfg["lr"] * every / (every + 1) * scale


def load_optimizer(opt, state: dict) -> None:
    """Load an Adam state; a G state from before the mapping had its own group is split."""
    groups = state["param_groups"]
    if len(groups) == 1 and len(opt.param_groups) == 2:
        ids, n = groups[0]["params"], len(opt.param_groups[0]["params"])
        groups = [{**groups[0], "params": ids[:n]}, {**groups[0], "params": ids[n:]}]
    opt.load_state_dict({**state, "param_groups": groups})


def reals(n, data_gen, device):
    return render(sample_factors(n, generator=data_gen), device=device) * 2 - 1


def save_grid(images: torch.Tensor, path: Path, nrow: int = 8) -> None:
    """Images (N, 3, H, W) in [-1, 1] as one PNG, ``nrow`` to a row."""
    frames = to_uint8(images)
    rows = [(f"{i}-{i + len(frames[i:i + nrow]) - 1}", frames[i:i + nrow])
            for i in range(0, len(frames), nrow)]
    contact_sheet(rows, path, columns=nrow)


def rng_states(data_gen) -> dict:
    states = {"torch": torch.get_rng_state(), "data": data_gen.get_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict, data_gen) -> None:
    torch.set_rng_state(states["torch"])
    data_gen.set_state(states["data"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def checkpoints(out: Path) -> list[Path]:
    return sorted((out / "checkpoints").glob("step-*.pt"))


def save_checkpoint(out, step, cfg, g, d, g_ema, g_opt, d_opt, pl_mean, data_gen, keep):
    g_ema.estimate_mean_latent(n=4096, seed=0)
    state = {"format": FORMAT, "step": step, "config": cfg, "g": g.state_dict(),
             "d": d.state_dict(), "g_ema": g_ema.state_dict(), "g_ema_config": g_ema.config,
             "g_opt": g_opt.state_dict(), "d_opt": d_opt.state_dict(), "pl_mean": pl_mean,
             "rng": rng_states(data_gen)}
    path = out / "checkpoints" / f"step-{step:07d}.pt"
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        torch.save(state, fh)  # a file object: no random temporary name inside the zip
    old = [p for p in checkpoints(out) if int(p.stem[5:]) % 2000 != 0]
    for stale in old[:-keep] if keep > 0 else []:
        stale.unlink()
    return path


def main(argv=None) -> None:
    args, given = parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    out = args.out
    cfg = {k: getattr(args, k) for k in CONFIG_KEYS}
    if checkpoints(out) and not args.resume:
        raise SystemExit(f"{out} already holds checkpoints: pass --resume or choose another --out")
    resume = checkpoints(out)[-1] if args.resume and checkpoints(out) else None
    if args.resume and resume is None:
        print(f"no checkpoint in {out / 'checkpoints'}: starting a new run", flush=True)
    state = torch.load(resume, map_location=device, weights_only=True) if resume else None
    if state is not None:
        if state.get("format") != FORMAT:
            raise SystemExit(f"{resume}: not a {FORMAT} checkpoint")
        changed = {k: getattr(args, k) for k in given
                   if state["config"].get(k) != getattr(args, k)}
        cfg = {**DEFAULTS, **state["config"], **changed}
        if changed:
            print(f"changed on resume: {json.dumps(changed)}", flush=True)
    torch.manual_seed(cfg["seed"])
    data_gen = torch.Generator().manual_seed(cfg["seed"] + 1)
    g, d, g_ema, g_opt, d_opt, g_every, d_every = build(cfg, device)
    extra_loss = (reconstruction_loss(cfg["recon"], cfg["recon_target"], names(cfg["recon_hold"]))
                  if cfg["recon"] > 0 else None)
    pl_mean = torch.zeros((), device=device)
    step = 0
    if state is not None:
        new_d = d_widths(cfg) != d_widths(state["config"])
        for net, key in ((g, "g"), (g_ema, "g_ema")) + (() if new_d else ((d, "d"),)):
            net.load_state_dict(state[key])
        load_optimizer(g_opt, state["g_opt"])
        if new_d:
            print(f"new discriminator, widths {cfg['d_channels']}: trained from scratch", flush=True)
        else:
            load_optimizer(d_opt, state["d_opt"])
        set_lrs(g_opt, d_opt, cfg, g_every, d_every)  # the lr may have been changed on resume
        pl_mean, step = state["pl_mean"].to(device), state["step"]
        set_rng_states(state["rng"], data_gen)
        print(f"resumed from {resume} at step {step}", flush=True)
    else:
        (out / "samples").mkdir(parents=True, exist_ok=True)
        save_grid(reals(64, torch.Generator().manual_seed(12345), device), out / "samples" / "reals.png")
    (out / "config.json").write_text(json.dumps(cfg, indent=2))  # as this run uses it
    sample_z = torch.randn(64, cfg["style_dim"], generator=torch.Generator().manual_seed(777)).to(device)
    n_params = sum(p.numel() for p in g.parameters()), sum(p.numel() for p in d.parameters())
    print(f"config {json.dumps(cfg)}; params G {n_params[0]:,} D {n_params[1]:,}; "
          f"threads {args.threads}; device {device}", flush=True)

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    sums, count, t0 = {}, 0, time.perf_counter()
    columns = (TextColumn("train"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
               TimeRemainingColumn())
    with Progress(*columns) as progress, (out / "log.jsonl").open("a") as log:
        task = progress.add_task("train", total=args.steps, completed=step, info="")
        while step < args.steps:
            stats = {}
            if cfg["adversarial"] > 0:
                stats = d_step(g, d, d_opt, cfg, reals(cfg["batch"], data_gen, device),
                               regularise=step % d_every == 0)
            stats.update(g_step(g, d, g_opt, cfg, device, g_every > 1 and step % g_every == 0,
                                pl_mean, extra_loss))
            step += 1
            update_ema(g_ema, g, step * cfg["batch"], cfg)
            for k, v in stats.items():
                sums.setdefault(k, []).append(v)
            count += 1
            progress.update(task, completed=step)
            if step % args.log_every == 0 or step == args.steps:
                elapsed = time.perf_counter() - t0
                row = {"step": step, "kimg": step * cfg["batch"] / 1000,
                       "s_per_step": elapsed / count, "time": time.time(),
                       **{k: sum(v) / len(v) for k, v in sums.items()}}
                log.write(json.dumps(row) + "\n")
                log.flush()
                info = " ".join([f"{label} {row[key]:.4f}" for key, label in LOGGED if key in row]
                                + [f"{row['s_per_step']:.2f} s/step"])
                progress.update(task, info=info)
                progress.console.print(f"step {step} kimg {row['kimg']:.1f} {info}")
                sums, count, t0 = {}, 0, time.perf_counter()
            if step % args.sample_every == 0 or step == args.steps:
                with torch.no_grad():
                    grid = g_ema.synthesize(g_ema.mapping(sample_z), noise_mode="const")
                save_grid(grid, out / "samples" / f"step-{step:07d}.png")
            if step % args.ckpt_every == 0 or step == args.steps:
                path = save_checkpoint(out, step, cfg, g, d, g_ema, g_opt, d_opt, pl_mean,
                                       data_gen, args.keep)
                progress.console.print(f"saved {path}")


if __name__ == "__main__":
    main()
