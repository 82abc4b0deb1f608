"""Aligned crops: where in each frame the generator's square is taken, and back.

``--align NAME[:OPTION]`` names a registered :class:`~dynode_core.Aligner`
(``face``, ``center``, ``box:X,Y,W,H``, ``none``). :func:`align_video` is the Python
API of ``dynode align``; :mod:`.types` holds the :class:`Alignment` value type and its
file, :mod:`.warp` the OpenCV warps (crops, paste-back, optical flow).

    from dynode_core import align_video
    alignment = align_video("clip.mp4", "face", size=256, out="aligned/")
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from .types import Alignment, quad_matrix, rect_quad

__all__ = ["Alignment", "align_video", "build_aligner", "parse_align", "quad_matrix",
           "rect_quad", "write_crops"]


def parse_align(spec: str) -> tuple[str, str | None]:
    """``NAME[:OPTION]`` -> (name, option or None)."""
    name, sep, option = str(spec).partition(":")
    return name, (option if sep else None)


def build_aligner(spec: str, *, face_index: int = 0, smooth_center: float = 1.0,
                  smooth_axes: float = 3.0):
    """The registered aligner ``spec`` names, built and checked (unknown names, bad
    options and a missing extra fail here, in one line)."""
    from ..interfaces import require
    from ..plugins import get_registry

    name, option = parse_align(spec)
    aligner = get_registry().create("aligners", name, option=option, face_index=face_index,
                                    smooth_center=smooth_center, smooth_axes=smooth_axes)
    return require(aligner, "aligners", name)


def frame_batches(source: str, batch_size: int, limit: int, options: dict | None = None):
    """(N, H, W, 3) uint8 batches of the first ``limit`` frames of ``source``."""
    from ..video import read_video

    seen = 0
    for batch in read_video(source, batch_size, **(options or {})):
        keep = min(len(batch.frames), limit - seen)
        if keep <= 0:
            return
        seen += keep
        yield batch.frames[:keep]


def align_source(aligner, source: str, info, *, count: int, size: int, batch_size: int = 16,
                 options: dict | None = None, progress=None) -> Alignment:
    """Run ``aligner`` over the first ``count`` frames of ``source`` (decoded for it only
    when the aligner reads frames)."""
    from ..interfaces import no_progress

    frames = frame_batches(source, batch_size, count, options) if aligner.reads_frames else None
    return aligner.align(frames, width=int(info.width), height=int(info.height), count=count,
                         size=int(size), progress=progress or no_progress)


def write_crops(source: str, alignment: Alignment, path, *, fps: float, batch_size: int = 16,
                options: dict | None = None) -> Path:
    """The aligned crops of ``source`` as a video at ``path`` (streamed)."""
    from ..video import write_video
    from .warp import warp_crops

    matrices = alignment.matrices()

    def crops():
        done = 0
        for frames in frame_batches(source, batch_size, len(alignment), options):
            yield warp_crops(frames, matrices[done:done + len(frames)], alignment.size)
            done += len(frames)

    return write_video(path, crops(), fps=fps)


def align_video(video, aligner: str = "face", *, size: int = 256, out=None,
                max_frames: int | None = None, face_index: int | None = None,
                smooth_center: float = 1.0,
                smooth_axes: float = 3.0, batch_size: int = 16, progress=None) -> Alignment:
    """Align every frame of ``video`` (``aligner``: ``NAME[:OPTION]``); with ``out``, a
    folder, also write ``alignment.safetensors`` / ``alignment.json`` (raw and smoothed
    quads, 2x3 frame -> crop matrices, statuses) and ``aligned.mp4`` (the crops)."""
    from ..video import probe_video

    if int(size) < 8:
        raise InputError(f"--size must be at least 8 pixels, got {size}")
    built = build_aligner(aligner, face_index=face_index or 0, smooth_center=smooth_center,
                          smooth_axes=smooth_axes)
    if face_index is not None and not built.takes_face_index:
        raise InputError(f"--face-index applies to --align face (aligners that track faces), "
                         f"not --align {aligner}")
    if out is not None:
        from .warp import require_cv2

        require_cv2()
    info = probe_video(video)
    count = info.frames if not max_frames else min(info.frames, int(max_frames))
    alignment = align_source(built, str(video), info, count=count, size=size,
                             batch_size=batch_size, progress=progress)
    if out is not None:
        alignment.save(out)
        write_crops(str(video), alignment, Path(out) / "aligned.mp4", fps=float(info.fps or 25),
                    batch_size=batch_size)
    return alignment
