"""Bundled plugin: per-clip generator tuning (``pti``, pivotal tuning).

Importing it loads no torch; the tuner is built lazily.
"""

from dynode_core import hookimpl, lazy


@hookimpl
def register_tuners(register):
    register("pti", lazy("dynode_tuning.pti:PivotalTuner"),
             description="pivotal tuning: synthesis weights tuned on the clip, codes fixed; "
                         "pixel MSE + SSIM, locality regulariser",
             time_budget=True)
