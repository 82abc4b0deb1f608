"""dynode's own procedural world (`shapes`) and the models trained on it.

Modules (imported lazily; importing this package loads no torch):

- :mod:`dynode_shapes.world`: factors, the anti-aliased renderer, the i.i.d. sampler;
- :mod:`dynode_shapes.motions`: analytic motions, edits and :func:`~dynode_shapes.motions.video`;
- :mod:`dynode_shapes.commands`: the ``dynode world`` command group.
"""

from dynode_core import hookimpl


@hookimpl
def register_commands(cli):
    from .commands import world

    cli.add_command(world)


def _world_reader(**_options):
    from .reader import WorldReader

    return WorldReader()


@hookimpl
def register_video_readers(register):
    register("world", _world_reader, scheme="world",
             description="world:MOTION[:FRAMES[:FPS]] renders a clip of the shapes world")
