"""Latent editors (SeFa, GANSpace, direction files, supervised) and edit metrics.

Editors: ``sefa``, ``ganspace``, ``file``, ``supervised``; metrics:
``edit-consistency``, ``flicker``. Factories take the editor's options as
keywords (all optional). Modules are imported lazily: importing this package
loads no torch.
"""

from dynode_core import hookimpl, lazy


@hookimpl
def register_editors(register):
    register("sefa", lazy("dynode_editors.sefa:SefaEditor"), needs_generator=True,
             description="SeFa: eigenvectors of the style modulation weights (layers=, rgb=)")
    register("ganspace", lazy("dynode_editors.ganspace:GanSpaceEditor"), needs_generator=True,
             description="GANSpace: PCA of W over sampled z, or a {'mean','comp','std'} file "
                         "(components=, samples=, seed=, layers=)")
    register("file", lazy("dynode_editors.files:FileEditor"), needs_generator=False,
             description="direction files .pt/.npy: (D,), (1,D), (L,D), (1,L,D) (folder=, layers=)")
    register("supervised", lazy("dynode_editors.supervised:SupervisedEditor"), needs_generator=True,
             description="InterFaceGAN-style boundary fitted in W from labels (labels=, model=), "
                         "plus the generator's named directions")


@hookimpl
def register_metrics(register):
    register("edit-consistency", lazy("dynode_editors.metrics:edit_consistency"),
             description="component along the edit over time vs frame 0, and residual motion MSE "
                         "(original=, edited=, direction=)")
    register("flicker", lazy("dynode_editors.metrics:flicker"),
             description="mean |frame(t+1) - frame(t)| of a video and its ratio to the original's "
                         "(video=, original=)")
