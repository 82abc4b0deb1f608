"""An example third-party dynode plugin (entry point ``example`` in group ``dynode``)."""

from dynode_core import hookimpl

__version__ = "0.1.0"


def _hold_factory(**options):
    from .hold import HoldDynamics

    return HoldDynamics(**options)


@hookimpl
def register_dynamics(register):
    register("hold", _hold_factory, description="sample-and-hold: the latest observed code")


@hookimpl
def after_stage(stage, result, context):
    """After ``invert``, replace the trajectory by an exponentially smoothed copy when
    ``context["example_smoothing"]`` is set; other stages pass through."""
    weight = context.get("example_smoothing")
    if stage != "invert" or not weight:
        return None
    from .hold import smooth_trajectory

    return smooth_trajectory(result, float(weight))
