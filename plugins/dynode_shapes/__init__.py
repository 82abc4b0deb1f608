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
