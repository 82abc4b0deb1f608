"""Bundled plugin: GAN inversion (frames -> W+ codes).

Inverters (registry kind ``inverters``):

- ``e4e``: a pSp / e4e encoder (official ``.pt`` checkpoints, dynode ``.safetensors``
  or a name from the ``encoders`` registry), optionally iterated (ReStyle);
- ``optim``: Adam in W or W+ on pixel MSE + SSIM, from the mean latent;
- ``hybrid``: encoder start, short optimisation refine.

Importing this module loads no torch; factories import lazily. Python API::

    from dynode_inversion.checkpoint import load_encoder, save_encoder
    from dynode_core.inversion import invert_video
    inverter = get_registry().create("inverters", "hybrid", encoder="e4e_ffhq_encode.pt")
    trajectory = invert_video("clip.mp4", generator, inverter, batch_size=8)
"""

from dynode_core import hookimpl


def _e4e(encoder=None, iterations=1, device=None):
    from .e4e import EncoderInverter

    return EncoderInverter(encoder, iterations=iterations, device=device)


def _optim(steps=100, lr=0.05, space="w+", seed=0, **options):
    from .optim import OptimInverter

    options.pop("device", None)  # optimisation runs where the generator is
    return OptimInverter(steps, lr, space, seed=seed, **options)


def _hybrid(encoder=None, steps=30, lr=0.01, space="w+", seed=0, device=None, **options):
    from .hybrid import HybridInverter

    return HybridInverter(encoder, steps, lr, space, seed=seed, device=device, **options)


@hookimpl
def register_inverters(register):
    register("e4e", _e4e, aliases=("psp", "encoder"),
             description="pSp / e4e encoder, one pass (ReStyle iterations optional)",
             needs_encoder=True)
    register("optim", _optim, aliases=("optimize", "projector"),
             description="Adam in W / W+ on pixel MSE + SSIM, from the mean latent")
    register("hybrid", _hybrid, description="encoder start, short Adam refine (default with an "
             "encoder)", needs_encoder=True)
