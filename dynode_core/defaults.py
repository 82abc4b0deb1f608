"""The product's defaults, in one table: what dynode uses when the user names nothing.

The core names bundled components only here (and in the list of bundled plugins in
:mod:`dynode_core.plugins`); every command, config and reader takes its default from
this module, so changing a default is one line.
"""

#: The generator (the bundled 64 px shapes model), its dynamics and per-clip tuner.
GENERATOR = "shapes64"
DYNAMICS = "ode"
TUNER = "pti"
#: The inverter when none is named: encoder start + refinement when the generator has a
#: registered encoder (or one is given), else optimisation alone.
INVERTER_WITH_ENCODER = "hybrid"
INVERTER = "optim"
#: What the ``temporal`` stage measures faces with when the run did not align on them:
#: the face aligner (boxes) and the identity embeddings (TL-ID / TG-ID).
FACE_ALIGNER = "face"
FACE_EMBEDDINGS = "face-embeddings"
#: The demo clip a run renders when it is given no input: ``world:MOTION:FRAMES``, read
#: by the video reader registered for the ``world`` scheme (the shapes world).
DEMO_SCHEME = "world"
DEMO_MOTION = "circle"
DEMO_FRAMES = 64


def demo_source(motion: str = DEMO_MOTION, frames: int = DEMO_FRAMES) -> str:
    """The demo clip's source string, e.g. ``world:circle:64``."""
    return f"{DEMO_SCHEME}:{motion}:{frames}"
