"""Checking a checkpoint's tensors against the model they are meant for."""

from __future__ import annotations


def state_problems(state: dict, expected: dict) -> list[str]:
    """What keeps ``state`` (name -> tensor) from loading into a model whose tensors have
    the shapes ``expected`` (name -> shape): missing, unexpected and mis-shaped keys, one
    phrase per kind (at most 8 names each); empty when it fits."""
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [f"{k} {tuple(state[k].shape)} (expected {tuple(shape)})"
             for k, shape in expected.items()
             if k in state and tuple(state[k].shape) != tuple(shape)]
    return [f"{label}: {', '.join(items[:8])}" for label, items in
            (("missing keys", missing), ("unexpected keys", unexpected), ("wrong shapes", wrong))
            if items]
