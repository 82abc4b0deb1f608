"""What each batch-1 lever of the StyleGAN2 generator gives, in ONE process, interleaved.

The generator as shipped ("all levers") against copies with one lever taken out each,
on the same weights and z (256 px, rosinality's widths, random weights; mapping +
synthesis, const noise, no grad), CPU seconds per image (fastest and median of
``--reps`` rounds; all contenders render once per round, in turn):

- kept kernels: the modulated convolutions' kernels kept channels-last with their norms
  while the weights are fixed (out: recomputed from the weights every call);
- activation scaling: at batch 1, small maps scale the activations instead of folding
  the style into larger kernels (out: always fold);
- kept shift: the bias + stored-noise shift kept (out: rebuilt every call);
- ToRGB matmul: the 1x1 layers as a channels-last matrix product (out: a matrix product
  over NCHW activations, which copies them);
- channels-last: activations channels-last (out: NCHW).

    PYTHONPATH=.:plugins python benchmarks/generator_levers.py --size 256 --reps 5
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import time
import types

import torch


def _recomputed_kernels(self):
    weight = self.weight[0]
    kernel = weight.transpose(0, 1) if self.upsample else weight
    return kernel, torch.linalg.vector_norm(weight, dim=(2, 3)).square()


def _always_fold(self, x, out_channels):
    return x.shape[0] == 1


def _rebuilt_shift(self, noise):
    shift = self.activate.bias.view(1, 1, 1, -1) * 2 ** 0.5
    if noise is not None:
        shift = shift + (self.noise.weight * 2 ** 0.5 * noise).permute(0, 2, 3, 1)
    return shift.permute(0, 3, 1, 2)


def _nchw_pointwise(x, weight, scale, shift):
    mat = weight[None, :, :, 0, 0] * scale
    out = torch.bmm(mat, x.flatten(2)).view(x.shape[0], -1, *x.shape[2:])
    return out if shift is None else out + shift


def without(g, lever: str):
    """A copy of ``g`` with ``lever`` taken out (methods rebound on its modules)."""
    from dynode_stylegan2.layers import ModulatedConv2d, StyledConv

    g = copy.deepcopy(g)
    for module in g.modules():
        if isinstance(module, ModulatedConv2d):
            if lever == "kept kernels":
                module._kernels = types.MethodType(_recomputed_kernels, module)
            if lever == "activation scaling":
                module._folds = types.MethodType(_always_fold, module)
            if lever == "ToRGB matmul":
                module._pointwise = _nchw_pointwise
        if isinstance(module, StyledConv) and lever == "kept shift":
            module._shift = types.MethodType(_rebuilt_shift, module)
    if lever == "channels-last":
        g.memory_format = torch.contiguous_format
    return g


LEVERS = ("kept kernels", "activation scaling", "kept shift", "ToRGB matmul", "channels-last")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--dtype", choices=["fp32", "bf16"], default="fp32")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from dynode_stylegan2.model import StyleGAN2Generator

    torch.manual_seed(0)
    g = StyleGAN2Generator(args.size).eval()
    for p in g.parameters():
        p.data.add_(0.05 * torch.randn_like(p))
        p.requires_grad_(False)
    g = g.to(torch.bfloat16 if args.dtype == "bf16" else torch.float32)
    z = torch.randn(1, 512, generator=torch.Generator().manual_seed(0))
    models = {"all levers": g, **{f"without {lever}": without(g, lever) for lever in LEVERS}}
    load = os.getloadavg()
    cpu = {name: [] for name in models}
    with torch.no_grad():
        ref = g.synthesize(g.mapping(z))
        for name, m in models.items():
            tol = 1e-2 if args.dtype == "fp32" else 1.0  # random weights amplify bf16 rounding
            assert (m.synthesize(m.mapping(z)) - ref).abs().max() < tol, name
        for _ in range(args.reps):
            for name, m in models.items():
                start = time.process_time()
                m.synthesize(m.mapping(z))
                cpu[name].append(time.process_time() - start)
    best = {name: min(t) for name, t in cpu.items()}
    print(f"| {args.size} px, batch 1, {args.dtype} | CPU-s best (median) | the lever gives |")
    print("| --- | ---: | ---: |")
    for name, times in cpu.items():
        gain = "" if name == "all levers" else f"{best[name] / best['all levers']:.2f}x"
        print(f"| {name} | {best[name]:.3f} ({statistics.median(times):.3f}) | {gain} |")
    print(f"threads {torch.get_num_threads()}, load {[round(x, 2) for x in load]} -> "
          f"{[round(x, 2) for x in os.getloadavg()]}")


if __name__ == "__main__":
    main()
