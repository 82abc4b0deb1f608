"""Small helpers shared by the inverters."""

from __future__ import annotations

import torch


def generator_device(module) -> torch.device:
    """The device of a module's first parameter or buffer (CPU when it has none)."""
    if isinstance(module, torch.nn.Module):
        for tensor in (*module.parameters(), *module.buffers()):
            return tensor.device
    return torch.device("cpu")
