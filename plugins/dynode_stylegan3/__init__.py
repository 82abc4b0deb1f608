"""Bundled plugin: the StyleGAN3 generator (configs T and R; NVIDIA network pickles,
stylegan3-editing state dicts, dynode safetensors; pure PyTorch, fast on CPU).

Importing this module loads no torch code; the factory imports the model lazily.

Python API::

    from dynode_stylegan3.loader import load_generator
    G = load_generator("stylegan3-t-ffhqu-256x256.pkl")
    images = G.synthesize(G.mapping(z, truncation=0.7))            # (N, 3, H, W) in [-1, 1]
    moved = G.synthesize(w, transform=inverse_of_image_transform)  # (3, 3) or (N, 3, 3)
"""

from dynode_core import InputError, hookimpl


def load_stylegan3(checkpoint=None, device="cpu", network="G_ema"):
    """Generator factory: a StyleGAN3 loaded from ``checkpoint`` (required); ``network``
    picks ``G_ema`` (default) or ``G`` of an NVIDIA network pickle."""
    if checkpoint is None:
        raise InputError("--checkpoint is required for generator 'stylegan3' (an NVIDIA "
                         "network .pkl, a stylegan3-editing .pt or a dynode .safetensors export)")
    from .loader import load_generator

    model = load_generator(checkpoint, device=device, network=network)
    model.name = "stylegan3"
    return model


def convert_stylegan3(source, out, *, network="G_ema", overwrite=False):
    """Converter: a StyleGAN3 checkpoint to dynode's safetensors + JSON (``dynode convert``)."""
    from .loader import convert_checkpoint

    return convert_checkpoint(source, out, network=network, overwrite=overwrite)


@hookimpl
def register_generators(register):
    """The ``stylegan3`` generator (needs ``--checkpoint``)."""
    register("stylegan3", load_stylegan3,
             description="StyleGAN3 (T/R) from an NVIDIA .pkl, stylegan3-editing .pt or dynode "
                         ".safetensors checkpoint", needs_checkpoint=True,
             converter=convert_stylegan3)
