"""Bundled plugin: the StyleGAN2 generator (rosinality checkpoints, NVIDIA network pickles,
dynode safetensors; pure PyTorch) and the ``dynode convert`` command.

Importing this module loads no torch code; the factory imports the model lazily.

Python API::

    from dynode_stylegan2.loader import load_generator, save_generator
    G = load_generator("550000.pt", device="cpu")      # or "ffhq.pkl", network="G"
    images = G.synthesize(G.mapping(z, truncation=0.7))        # (N, 3, H, W) in [-1, 1]

    from dynode_core.formats import load_network
    D = load_network("network-snapshot.pkl", "D")      # plain data: D.state_dict(), D.init_kwargs

Training code builds the networks directly:
``dynode_stylegan2.model.StyleGAN2Generator`` and
``dynode_stylegan2.discriminator.Discriminator`` (both take ``channels={res: width}``).
"""

from dynode_core import InputError, hookimpl


def load_stylegan2(checkpoint=None, device="cpu", network="G_ema", model_name=None,
                   directions=None):
    """Generator factory: a StyleGAN2 loaded from ``checkpoint`` (required); ``network``
    picks ``G_ema`` (default) or ``G`` of an NVIDIA network pickle. A plugin that ships
    a model on this class (``shapes64``) gives its ``model_name`` and its ``directions``
    (``directions(model) -> {name: Direction}``, what ``named_directions()`` returns)."""
    if checkpoint is None:
        raise InputError("--checkpoint is required for generator 'stylegan2' (a rosinality "
                         ".pt checkpoint, an NVIDIA network .pkl or a dynode .safetensors export)")
    from .loader import load_generator

    model = load_generator(checkpoint, device=device, network=network)
    return model.declare(name=model_name, directions=directions)


def convert_stylegan2(source, out, *, network="G_ema", overwrite=False):
    """Converter: a StyleGAN2 checkpoint to dynode's safetensors + JSON (``dynode convert``)."""
    from .loader import convert_checkpoint

    return convert_checkpoint(source, out, network=network, overwrite=overwrite)


@hookimpl
def register_generators(register):
    """The ``stylegan2`` generator (needs ``--checkpoint``)."""
    register("stylegan2", load_stylegan2,
             description="StyleGAN2 from a rosinality .pt, NVIDIA .pkl or dynode .safetensors "
                         "checkpoint", needs_checkpoint=True, converter=convert_stylegan2)


@hookimpl
def register_commands(cli):
    """``dynode convert``."""
    from .commands import convert

    cli.add_command(convert)
