"""The StyleGAN2 generator side by side in ONE process, interleaved (``generator.py --side``).

On a machine shared with other jobs, separate processes measured minutes apart see
different loads; here every contender renders once per round, in turn, for ``--reps``
rounds, and the table gives the fastest and the median CPU seconds per image
(``time.process_time``: all threads of this process), with the 1-minute load average
before and after and the thread count. Contenders, on the same weights and z (mapping +
synthesis, const noise, no grad):

- ``dynode fp32`` and ``dynode bf16`` (where the CPU has native bf16);
- ``rosinality fp32``: rosinality/stylegan2-pytorch's own CPU path (``--rosinality DIR``);
- ``conv limit fp32`` / ``bf16``: only the network's 3x3 convolutions and transposed
  convolutions, with fixed weights on channels-last activations as oneDNN runs them
  fastest: the time the generator would take if it were nothing but its convolutions.

GFLOP counts the multiply-adds of those convolutions (2 FLOP each) plus the 1x1 ToRGB
layers; "of limit" is the conv limit's time over the contender's.
"""

from __future__ import annotations

import os
import statistics
import time

import torch
import torch.nn.functional as F


def conv_plan(g) -> list[tuple[bool, int, int, int]]:
    """(transposed, C_in, C_out, input size) of each 3x3 conv in execution order."""
    plan = [(False, g.conv1.conv.weight.shape[2], g.conv1.conv.weight.shape[1], 4)]
    res = 4
    for conv in g.convs:
        _, c_out, c_in = conv.conv.weight.shape[:3]
        plan.append((conv.conv.upsample, c_in, c_out, res))
        res *= 2 if conv.conv.upsample else 1
    return plan


def gflop(g) -> float:
    convs = sum(2 * ci * co * 9 * r * r for _, ci, co, r in conv_plan(g))
    rgb = sum(2 * m.conv.weight.shape[2] * 3 * (4 * 2 ** k) ** 2
              for k, m in enumerate([g.to_rgb1, *g.to_rgbs]))
    return (convs + rgb) / 1e9


def conv_limit(g, dtype):
    """A callable running only ``g``'s convolutions (fixed random weights)."""
    cl = torch.channels_last
    layers = []
    for transposed, ci, co, r in conv_plan(g):
        x = torch.randn(1, ci, r, r).to(dtype).contiguous(memory_format=cl)
        w = torch.randn(ci, co, 3, 3) if transposed else torch.randn(co, ci, 3, 3)
        layers.append((transposed, x, (w / 30).to(dtype).contiguous(memory_format=cl)))

    def run():
        for transposed, x, w in layers:
            if transposed:
                F.conv_transpose2d(x, w, stride=2)
            else:
                F.conv2d(x, w, padding=1)
    return run


def contenders(size: int, batch: int, weights, rosinality: str | None, bf16: bool):
    """name -> (render(), gflop per image); plus the images of the generators."""
    import copy

    from generator import _build

    cfg = {"size": size, "batch": batch}
    g, render = _build(cfg, "dynode", weights, None)
    for p in g.parameters():
        p.requires_grad_(False)
    z = torch.randn(batch, 512, generator=torch.Generator().manual_seed(0))
    work = gflop(g)
    out = {"dynode fp32": lambda: render(z)}
    if bf16:
        g16 = copy.deepcopy(g).to(torch.bfloat16)
        out["dynode bf16"] = lambda: g16.synthesize(g16.mapping(z))
    if rosinality:
        _, theirs = _build(cfg, "rosinality", weights, rosinality)
        out["rosinality fp32"] = lambda: theirs(z)
    out["conv limit fp32"] = conv_limit(g, torch.float32)
    if bf16:
        out["conv limit bf16"] = conv_limit(g, torch.bfloat16)
    return out, work


def side_by_side(size: int, batch: int, weights, reps: int, rosinality: str | None,
                 bf16: bool) -> list[dict]:
    fns, work = contenders(size, batch, weights, rosinality, bf16)
    load = [round(x, 2) for x in os.getloadavg()]
    cpu = {name: [] for name in fns}
    images = {}
    with torch.no_grad():
        for name, fn in fns.items():  # warm-up (and the images to compare)
            images[name] = fn()
        for _ in range(reps):
            for name, fn in fns.items():
                start = time.process_time()
                fn()
                cpu[name].append((time.process_time() - start) / batch)
    ref = images["dynode fp32"]
    limit = {d: min(cpu[f"conv limit {d}"]) for d in ("fp32", "bf16") if f"conv limit {d}" in cpu}
    rows = []
    for name, times in cpu.items():
        best, dtype = min(times), name.split()[-1]
        row = {"size": size, "batch": batch, "contender": name, "cpu_s_best": round(best, 3),
               "cpu_s_median": round(statistics.median(times), 3),
               "gflop_per_s": round(work / best, 1), "gflop": round(work, 1),
               "of_limit": round(limit[dtype] / best, 2) if dtype in limit else None,
               "threads": torch.get_num_threads(), "load_before": load,
               "load_after": [round(x, 2) for x in os.getloadavg()]}
        if isinstance(images.get(name), torch.Tensor) and images[name].shape == ref.shape:
            diff = (images[name].float() - ref).float()
            row["max_abs_diff"] = float(diff.abs().max())
            row["psnr_vs_fp32"] = round(float(10 * torch.log10(4 / diff.square().mean())), 1) \
                if diff.abs().max() > 0 else None
        rows.append(row)
    base = {r["contender"]: r["cpu_s_best"] for r in rows}
    for row in rows:
        row["x_vs_dynode_fp32"] = round(base["dynode fp32"] / row["cpu_s_best"], 2)
        if "rosinality fp32" in base:
            row["x_vs_rosinality"] = round(base["rosinality fp32"] / row["cpu_s_best"], 2)
    return rows


def print_rows(rows: list[dict]) -> None:
    print("| size, batch | contender | CPU-s/img best (median) | GFLOP/s | of conv limit | "
          "x dynode fp32 | x rosinality | PSNR vs fp32 |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        of_limit = "-" if r["of_limit"] is None else f"{100 * r['of_limit']:.0f} %"
        print(f"| {r['size']} px, {r['batch']} | {r['contender']} | {r['cpu_s_best']:.3f} "
              f"({r['cpu_s_median']:.3f}) | {r['gflop_per_s']:.0f} | {of_limit} | "
              f"{r['x_vs_dynode_fp32']:.2f} | {r.get('x_vs_rosinality', '-')} | "
              f"{r.get('psnr_vs_fp32') or '-'} |", flush=True)
    r = rows[0]
    print(f"threads {r['threads']}, load {r['load_before']} -> {rows[-1]['load_after']}, "
          f"{r['gflop']} GFLOP per image", flush=True)
