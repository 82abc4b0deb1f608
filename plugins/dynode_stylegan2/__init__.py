"""Bundled plugin: the StyleGAN2 generator (rosinality checkpoints, pure PyTorch).

Importing this module loads no torch code; the factory imports the model lazily.

Python API::

    from dynode_stylegan2.loader import load_generator, save_generator
    G = load_generator("550000.pt", device="cpu")
    images = G.synthesize(G.mapping(z, truncation=0.7))        # (N, 3, H, W) in [-1, 1]

Training code builds the networks directly:
``dynode_stylegan2.model.StyleGAN2Generator`` and
``dynode_stylegan2.discriminator.Discriminator`` (both take ``channels={res: width}``).
"""

from dynode_core import hookimpl
from dynode_core.errors import InputError


def load_stylegan2(checkpoint=None, device="cpu"):
    """Generator factory: a StyleGAN2 loaded from ``checkpoint`` (required)."""
    if checkpoint is None:
        raise InputError("--checkpoint is required for generator 'stylegan2' (a rosinality "
                         ".pt checkpoint or a dynode .safetensors export)")
    from .loader import load_generator

    return load_generator(checkpoint, device=device)


@hookimpl
def register_generators(register):
    register("stylegan2", load_stylegan2,
             description="StyleGAN2 from a rosinality .pt or dynode .safetensors checkpoint",
             needs_checkpoint=True)
