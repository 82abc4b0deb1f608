"""Video inversion: frames streamed in batches through any inverter into a trajectory.

- :func:`invert_video`: a video (path or iterator of frame batches) -> :class:`LatentTrajectory`;
- :func:`build_inverter`: an inverter from a registry name (or the default) and options;
- :mod:`.frames`: conversion of frames to the generator's input (policy documented there);
- :mod:`.cache`: the resumable per-batch cache of codes; :func:`weights_fingerprint`
  tells weights apart for it.
"""

from .cache import fingerprint as weights_fingerprint
from .frames import CROPS, to_generator_input, to_rgb8
from .select import build_inverter, default_encoder
from .video import invert_video, smooth

__all__ = ["CROPS", "build_inverter", "default_encoder", "invert_video", "smooth",
           "to_generator_input", "to_rgb8", "weights_fingerprint"]
