"""Video inversion: frames streamed in batches through any inverter into a trajectory.

- :func:`invert_video`: a video (path or iterator of frame batches) -> :class:`LatentTrajectory`;
- :mod:`.frames`: conversion of frames to the generator's input (policy documented there);
- :mod:`.cache`: the resumable per-batch cache of codes.
"""

from .frames import CROPS, to_generator_input, to_rgb8
from .video import invert_video, smooth

__all__ = ["CROPS", "invert_video", "smooth", "to_generator_input", "to_rgb8"]
