"""dynode's own procedural world (`shapes`) and the models trained on it.

Modules (imported lazily; importing this package loads no torch):

- :mod:`dynode_shapes.world`: factors, the anti-aliased renderer, the i.i.d. sampler;
- :mod:`dynode_shapes.motions`: analytic motions, edits and :func:`~dynode_shapes.motions.video`;
- :mod:`dynode_shapes.commands`: the ``dynode world`` command group;
- :mod:`dynode_shapes.regressor`: the factor regressor (``world-factors`` metric);
- :mod:`dynode_shapes.models`: the bundled ``shapes64`` generator and ``shapes64-e4e`` encoder;
- :mod:`dynode_shapes.bench`: ``dynode bench``, dynamics and edit propagation scored against
  the world's exact ground truth.
"""

from pathlib import Path

from dynode_core import hookimpl, lazy

_WEIGHTS = Path(__file__).resolve().parent / "weights"


@hookimpl
def register_commands(cli):
    from .bench.cli import bench
    from .commands import world

    cli.add_command(world)
    cli.add_command(bench)


def _world_reader(**_options):
    from .reader import WorldReader

    return WorldReader()


@hookimpl
def register_video_readers(register):
    register("world", _world_reader, scheme="world",
             description="world:MOTION[:FRAMES[:FPS]] renders a clip of the shapes world")


@hookimpl
def register_generators(register):
    register("shapes64", lazy("dynode_shapes.models:load_shapes64"), needs_checkpoint=False,
             description="64 px StyleGAN2 trained on the shapes world (bundled weights)")


@hookimpl
def register_encoders(register):
    if (_WEIGHTS / "shapes64-e4e.safetensors").is_file():
        register("shapes64-e4e", lazy("dynode_shapes.models:shapes64_encoder_file"),
                 generator="shapes64", description="e4e encoder into shapes64's W+ (bundled weights)")


@hookimpl
def register_metrics(register):
    register("world-factors", lazy("dynode_shapes.factor_errors:world_factors"),
             description="factors of world frames read by the bundled regressor, and their "
                         "errors given the true factors (frames=, factors=)")
