"""Aligned crops in ``dynode run``: the ``align`` stage (per-frame crops, saved in
``alignment/``), the crops the inverter reads, and the checks made before any work.

``--align center`` (the default) and ``none`` give exactly the inverter's own crop
modes, so such a run is the run before aligners existed, byte for byte. ``--align
face`` decodes the clip a second time for the detection pass: smoothing needs every
frame's landmarks before the first crop can be cut, decoding costs a few per cent of
detection (and of inversion), and a second pass keeps memory at one batch, where a
look-ahead buffer of decoded frames would not.
"""

from __future__ import annotations

from ..errors import InputError

#: aligners whose crops equal an inverter crop mode (no OpenCV needed without paste-back)
CROP_MODES = {"center", "none"}


def aligner_spec(config) -> str:
    """The aligner a config names: ``center`` follows ``--crop`` (``none`` stays ``none``)."""
    if config.align == "center" and config.crop == "none":
        return "none"
    return config.align


def check_align(config, info, resolution: int):
    """The aligner, built and checked before any work: a bad name or option, a box
    outside the frame, a missing extra (dlib, OpenCV) fail here in one line."""
    from ..alignment import build_aligner, parse_align
    from ..alignment.warp import require_cv2

    aligner = build_aligner(aligner_spec(config), face_index=config.face_index)
    name = parse_align(aligner_spec(config))[0]
    if not aligner.reads_frames:  # fixed crops: check them against the frame now
        aligner.align(None, width=int(info.width), height=int(info.height), count=1,
                      size=int(resolution))
    if pastes(config, aligner) or name not in CROP_MODES:
        require_cv2()
    if config.face_index and name != "face":
        raise InputError(f"--face-index applies to --align face, not --align {config.align}")
    return aligner


def pastes(config, aligner) -> bool:
    """``--paste-back`` as given, else the aligner's default (on for face and box)."""
    return bool(aligner.pastes if config.paste_back is None else config.paste_back)


def align(ctx, source):
    """One crop per frame of the input (a second decode only for aligners that look at
    the frames); a finished alignment is reused on ``--resume``."""
    from ..alignment import Alignment, align_source

    folder = ctx.folder / "alignment"
    if ctx.resume and (folder / "alignment.json").is_file():
        return Alignment.load(folder)
    aligner = ctx["aligner"]
    task = ctx.progress.task("align", source.total) if aligner.reads_frames else None
    return align_source(aligner, source.name, source.info, count=source.total,
                        size=ctx.generator.resolution, batch_size=ctx.config.batch_size,
                        options=source.options, progress=task)


def save_alignment(ctx, alignment) -> None:
    alignment.save(ctx.folder / "alignment")


def crop_mode(ctx) -> str:
    """The inverter's crop mode: the aligner's own, or ``none`` for warped crops (which
    are square at the generator's resolution already)."""
    return ctx.results["align"].crop_mode or "none"


def aligned_batches(ctx, source):
    """The input's batches as the inverter reads them: unchanged for crop modes, else
    each frame warped to its aligned crop (also kept as ``aligned/input.mp4``)."""
    alignment = ctx.results["align"]
    if alignment.crop_mode is not None:
        yield from source.batches()
        return
    from ..alignment.warp import warp_crops
    from ..video import open_video
    from ..video_types import FrameBatch

    matrices, done = alignment.matrices(), 0
    (ctx.folder / "aligned").mkdir(exist_ok=True)
    with open_video(ctx.folder / "aligned" / "input.mp4", fps=source.fps) as sink:
        for batch in source.batches():
            crops = warp_crops(batch.frames, matrices[done:done + len(batch.frames)],
                               alignment.size)
            done += len(crops)
            sink.add(crops)
            yield FrameBatch(frames=crops, times=batch.times)
