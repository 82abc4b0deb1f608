"""An example third-party dynode plugin (entry point ``example`` in group ``dynode``): a
dynamics model (``hold``), a run stage with its own option (``speed``) and a pipeline
hook (smoothing after ``invert``)."""

from dynode_core import hookimpl

__version__ = "0.1.0"


def _hold_factory(**options):
    from .hold import HoldDynamics

    return HoldDynamics(**options)


@hookimpl
def register_dynamics(register):
    register("hold", _hold_factory, description="sample-and-hold: the latest observed code")


@hookimpl
def add_stages(stages):
    """The ``speed`` stage, after ``invert`` (see :mod:`.speed`)."""
    from .speed import speed_stage

    stages.add(speed_stage(), after="invert")


@hookimpl
def after_stage(stage, result, context):
    """After ``invert``, replace the trajectory by an exponentially smoothed copy when
    ``context["example_smoothing"]`` is set; other stages pass through."""
    weight = context.get("example_smoothing")
    if stage != "invert" or not weight:
        return None
    from .hold import smooth_trajectory

    return smooth_trajectory(result, float(weight))
