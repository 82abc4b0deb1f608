"""The ``e4e`` inverter: one forward pass of a pSp / e4e encoder, optionally refined.

``iterations`` > 1 feeds the current reconstruction back:

- an encoder built with 6 input channels (ReStyle) gets ``concat(image,
  reconstruction)`` and predicts a residual: ``w_{k+1} = w_k + E(x, G(w_k))``,
  starting from ``latent_avg`` and its image;
- a plain 3-channel encoder uses the simpler latent-residual variant
  ``w_{k+1} = w_k + E(x) - E(G(w_k))``: it moves the code by the difference
  between what the encoder sees in the frame and in the current reconstruction,
  which stops changing once the reconstruction encodes like the frame.
"""

from __future__ import annotations

import torch

from dynode_core import InputError, check_number
from dynode_core import Inverter, no_progress

from .util import generator_device


def check_compatible(encoder, generator) -> None:
    """Refuse an encoder whose output does not fit the generator's W+."""
    cfg = encoder.config
    if (cfg.num_ws, cfg.style_dim) != (generator.num_ws, generator.latent_dim):
        raise InputError(f"the encoder predicts W+ codes of {cfg.num_ws} x {cfg.style_dim} but the "
                         f"generator takes {generator.num_ws} x {generator.latent_dim}")


class EncoderInverter(Inverter):
    """Codes from an encoder (a module, a file path or a registered encoder name)."""

    def __init__(self, encoder=None, iterations: int = 1, device=None):
        if encoder is None:
            from dynode_core import get_registry

            names = ", ".join(get_registry().names("encoders")) or "(none registered)"
            raise InputError(f"the e4e inverter needs an encoder (a file or a registered name: "
                             f"{names})")
        iterations = check_number("inverter option iterations", iterations, kind=int,
                                  minimum=1, maximum=1000)
        from .checkpoint import resolve_encoder

        self.source = encoder if isinstance(encoder, str) else type(encoder).__name__
        self.encoder = resolve_encoder(encoder, device or "cpu")
        self.iterations = int(iterations)

    @property
    def config(self) -> dict:
        from dynode_core import weights_fingerprint as fingerprint

        return {"name": "e4e", "encoder": str(self.source), "iterations": self.iterations,
                "encoder_weights": fingerprint(self.encoder)}

    @torch.no_grad()
    def invert(self, frames: torch.Tensor, generator, *, progress=no_progress) -> torch.Tensor:
        check_compatible(self.encoder, generator)
        device = generator_device(generator)
        encoder = self.encoder.to(device).eval()
        x = frames.to(device, torch.float32)
        progress(0, total=self.iterations, description="encoding")
        paired = encoder.config.input_nc == 2 * x.shape[1]
        if paired:
            codes = encoder.latent_avg.expand(x.shape[0], generator.num_ws, -1)
            for _ in range(self.iterations):
                reconstruction = generator.synthesize(codes, noise_mode="const")
                codes = encoder(x, reconstruction, previous=codes)
                progress(1)
            return codes
        seen = encoder(x)
        codes = seen.clone()
        progress(1)
        for _ in range(self.iterations - 1):
            codes = codes + seen - encoder(generator.synthesize(codes, noise_mode="const"))
            progress(1)
        return codes
