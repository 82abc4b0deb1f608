"""Single frames of a run's videos, for previews (paste-back backgrounds) and thumbnails:
seek to the keyframe before, then decode forward to the frame (PyAV)."""

from __future__ import annotations

import io
from fractions import Fraction

import numpy as np

from ..errors import InputError


def frame_at(path, index: int) -> np.ndarray:
    """Frame ``index`` (0-based; the last one past the end) of a video as (H, W, 3) uint8."""
    import av

    try:
        container = av.open(str(path))
    except (OSError, av.error.FFmpegError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    with container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or Fraction(25)
        base = stream.time_base or Fraction(1, 1000)
        start = stream.start_time or 0
        target = start + int(round(index / rate / base))
        container.seek(target, stream=stream, backward=True, any_frame=False)
        last = None
        for frame in container.decode(stream):
            last = frame
            if frame.pts is not None and frame.pts >= target - 0.5 / rate / base:
                break
        if last is None:
            raise InputError(f"{path} has no frame {index}")
        return last.to_ndarray(format="rgb24")


def png_bytes(frame: np.ndarray, max_side: int | None = None) -> bytes:
    """``frame`` as PNG bytes, shrunk to ``max_side`` pixels a side when given."""
    from PIL import Image

    image = Image.fromarray(frame)
    if max_side is not None and max(image.size) > max_side:
        image.thumbnail((max_side, max_side), Image.BILINEAR)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
