"""Small neural networks the learned models are built from."""

from __future__ import annotations

import math

import torch
from torch import nn


def mlp(inputs: int, outputs: int, width: int, depth: int, *, zero_last: bool = False,
        activation=nn.SiLU) -> nn.Sequential:
    """``depth`` hidden layers of ``width`` units with a smooth activation."""
    layers: list[nn.Module] = []
    size = inputs
    for _ in range(depth):
        layers += [nn.Linear(size, width), activation()]
        size = width
    last = nn.Linear(size, outputs)
    if zero_last:
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
    layers.append(last)
    return nn.Sequential(*layers)


class FieldEnsemble(nn.Module):
    """M independent autonomous fields f_m(y) = speed_m * mlp_m(y), evaluated together.

    Input (M, B, K) gives (M, B, outputs); with M = 1 any shape (..., K) works. The
    members share no parameters, so training them in one loop is the same as
    training each alone, at the cost of about one (batched) solve.
    ``speed`` (set from the data: RMS observed speed per coordinate) keeps
    the networks' outputs of order one.
    """

    def __init__(self, members: int, dim: int, width: int, depth: int,
                 outputs: int | None = None, zero_last: bool = False) -> None:
        super().__init__()
        sizes = [dim] + [width] * depth + [outputs or dim]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            bound = 1 / math.sqrt(fan_in)  # torch.nn.Linear's default initialisation
            self.weights.append(nn.Parameter(torch.empty(members, fan_in, fan_out)
                                             .uniform_(-bound, bound)))
            self.biases.append(nn.Parameter(torch.empty(members, 1, fan_out)
                                            .uniform_(-bound, bound)))
        if zero_last:
            with torch.no_grad():
                self.weights[-1].zero_()
                self.biases[-1].zero_()
        self.register_buffer("speed", torch.ones(members, 1, 1))

    @property
    def members(self) -> int:
        return int(self.speed.shape[0])

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        single = self.members == 1 and not (y.dim() == 3 and y.shape[0] == 1)
        h = y.reshape(1, -1, y.shape[-1]) if single else y
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(b, h, w)
            if i < last:
                h = torch.nn.functional.silu(h)
        h = self.speed * h
        return h.reshape(*y.shape[:-1], h.shape[-1]) if single else h

    def member(self, index: int) -> "FieldEnsemble":
        """A one-member ensemble holding a copy of member ``index``."""
        dim, width = self.weights[0].shape[1], self.weights[0].shape[2]
        one = FieldEnsemble(1, dim, width, len(self.weights) - 1,
                            self.weights[-1].shape[2]).to(self.speed.device)
        with torch.no_grad():
            for src, dst in zip([*self.weights, *self.biases], [*one.weights, *one.biases]):
                dst.copy_(src[index:index + 1])
            one.speed.copy_(self.speed[index:index + 1])
        return one
