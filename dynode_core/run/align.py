"""Aligned crops in ``dynode run``: the ``align`` stage (per-frame crops, saved in
``alignment/``), its settings (``align``, ``face_index``, ``paste_back``), the check made
before any work, and the crops the inverter reads. Paste-back (:mod:`.paste`) reads the
decision this stage's check records as ``ctx["paste_back"]``.

``--align center`` (the default) and ``none`` give exactly the inverter's own crop
modes, so such a run is the run before aligners existed, byte for byte. ``--align
face`` decodes the clip a second time for the detection pass: smoothing needs every
frame's landmarks before the first crop can be cut, decoding costs a few per cent of
detection (and of inversion), and a second pass keeps memory at one batch, where a
look-ahead buffer of decoded frames would not.
"""

from __future__ import annotations

from ..errors import InputError
from .runner import ALIGN, READ, StageOption, Stage, result_of

OPTIONS = (
    StageOption("align", str, default="center",
           help="Crop of each frame: center (follows --crop), face, box:X,Y,W,H, none "
                "[center]."),
    StageOption("face_index", int, minimum=0,
           help="--align face: which face to track, 0 = the largest [0]."),
    StageOption("paste_back", bool,
           help="Paste the rendered crops back into the input's frames [on for face, box]."),
)


def aligner_spec(config, settings) -> str:
    """The aligner the settings name: ``center`` follows ``--crop`` (``none`` stays)."""
    if settings["align"] == "center" and config.crop == "none":
        return "none"
    return settings["align"]


def prepare_align(ctx) -> None:
    """The aligner, built and checked before any work: a bad name or option, a box
    outside the frame, a missing extra (dlib, OpenCV) fail here in one line. Keeps
    ``ctx["aligner"]`` and ``ctx["paste_back"]`` (whether outputs are pasted back)."""
    from ..alignment import build_aligner
    from ..alignment.warp import require_cv2

    settings, info = ctx.settings, ctx.info
    spec = aligner_spec(ctx.config, settings)
    aligner = build_aligner(spec, face_index=settings["face_index"] or 0)
    if settings["face_index"] is not None and not aligner.takes_face_index:
        raise InputError(f"--face-index applies to --align face (aligners that track faces), "
                         f"not --align {settings['align']}")
    if not aligner.reads_frames:  # fixed crops: check them against the frame now
        aligner.align(None, width=int(info.width), height=int(info.height), count=1,
                      size=int(ctx.generator.resolution))
    paste_back = settings["paste_back"]
    ctx["paste_back"] = bool(aligner.pastes if paste_back is None else paste_back)
    if ctx["paste_back"] or aligner.crop_mode is None:
        require_cv2()
    ctx["aligner"] = aligner


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


def align_stage() -> Stage:
    return Stage(ALIGN, align, take=result_of(READ), save=save_alignment,
                 description="one crop per frame (--align), saved in alignment/",
                 options=OPTIONS, prepare=prepare_align)


def crop_mode(ctx) -> str:
    """The inverter's crop mode: the aligner's own, or ``none`` for warped crops (which
    are square at the generator's resolution already)."""
    return ctx.results[ALIGN].crop_mode or "none"


def aligned_batches(ctx, source):
    """The input's batches as the inverter reads them: unchanged for crop modes, else
    each frame warped to its aligned crop (also kept as ``aligned/input.mp4``)."""
    alignment = ctx.results[ALIGN]
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
