"""Where ``dynode batch`` runs: ``local`` (this process, or a pool of worker processes)
and ``ray`` (a local Ray started for the batch, or a cluster joined with ``address=``;
needs the ``ray`` extra, ``pip install -e ".[ray]"`` in the source checkout).

Factories are called as ``factory(workers=None, address=None)``. Modules are imported
lazily: importing this package imports neither torch nor ray.
"""

from dynode_core import hookimpl, lazy


@hookimpl
def register_executors(register):
    register("local", lazy("dynode_executors.local:LocalExecutor"),
             description="this machine: sequential in this process, or a pool of "
                         "worker processes (workers=N)")
    register("ray", lazy("dynode_executors.ray_cluster:RayExecutor"),
             description="Ray actors, one per worker: a local Ray, or a cluster "
                         "(address=auto|ray://HOST:PORT); needs the ray extra: "
                         'pip install -e ".[ray]" in the dynode source checkout',
             extra="ray")
