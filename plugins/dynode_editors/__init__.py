"""Latent editors (SeFa, GANSpace, direction files, supervised) and edit metrics.

Editors: ``sefa``, ``ganspace``, ``file``, ``supervised``; metrics:
``edit-consistency``, ``flicker``. Factories take the editor's options as
keywords (all optional). Modules are imported lazily: importing this package
loads no torch.
"""

from dynode_core import hookimpl


def _sefa(**options):
    from .sefa import SefaEditor

    return SefaEditor(**options)


def _ganspace(**options):
    from .ganspace import GanSpaceEditor

    return GanSpaceEditor(**options)


def _file(**options):
    from .files import FileEditor

    return FileEditor(**options)


def _supervised(**options):
    from .supervised import SupervisedEditor

    return SupervisedEditor(**options)


def _edit_consistency(**inputs):
    from .metrics import edit_consistency

    return edit_consistency(**inputs)


def _flicker(**inputs):
    from .metrics import flicker

    return flicker(**inputs)


@hookimpl
def register_editors(register):
    register("sefa", _sefa, needs_generator=True,
             description="SeFa: eigenvectors of the style modulation weights (layers=, rgb=)")
    register("ganspace", _ganspace, needs_generator=True,
             description="GANSpace: PCA of W over sampled z, or a {'mean','comp','std'} file "
                         "(components=, samples=, seed=, layers=)")
    register("file", _file, needs_generator=False,
             description="direction files .pt/.npy: (D,), (1,D), (L,D), (1,L,D) (folder=, layers=)")
    register("supervised", _supervised, needs_generator=True,
             description="InterFaceGAN-style boundary fitted in W from labels (labels=, model=), "
                         "plus the generator's named directions")


@hookimpl
def register_metrics(register):
    register("edit-consistency", _edit_consistency,
             description="component along the edit over time vs frame 0, and residual motion MSE "
                         "(original=, edited=, direction=)")
    register("flicker", _flicker,
             description="mean |frame(t+1) - frame(t)| of a video and its ratio to the original's "
                         "(video=, original=)")
