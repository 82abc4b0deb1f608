"""Bundled plugin: per-clip generator tuning (``pti``, pivotal tuning).

Importing it loads no torch; the tuner is built lazily.
"""

from dynode_core import hookimpl, lazy


@hookimpl
def register_tuners(register):
    register("pti", lazy("dynode_tuning.pti:PivotalTuner"),
             description="pivotal tuning: synthesis weights tuned on the clip, codes fixed; "
                         "pixel MSE + SSIM, locality regulariser, edit term for the run's "
                         "edits, cosine learning rate over the steps or the time budget",
             time_budget=True)
