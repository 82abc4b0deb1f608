"""The ``temporal`` stage of ``dynode run``: how steady the written videos are, after ``write``.

It reads the decoded output files and measures them against the input
(:mod:`dynode_core.temporal` holds the formulas): the warping error with optical flow
from the original input, for the whole frame, the face's box and (when outputs are
pasted back) the aligned crops in ``aligned/``; TL-ID and TG-ID of the face; PSNR against
the input; and for each edit, PSNR against the per-frame ``offset`` edit. The input's
own warping error is the floor, and each output's ratio to it is reported.

Settings: ``temporal`` (``--temporal/--no-temporal``; by default on for a video file or
folder when OpenCV is installed, off for generated sources such as the demo world) and
``temporal_frames`` (the first N input frames are measured, which bounds the cost).
Faces come from the run's own ``--align face`` landmarks, or a detection pass of the
registered face aligner; identity embeddings from the registered ``face-embeddings``
metric (both in the ``faces`` extra). The boxes are written to ``face_boxes.json``.
"""

from __future__ import annotations

import json

import numpy as np

from ..errors import DynodeError
from .runner import (ALIGN, EDIT, FIT, INVERT, READ, TEMPORAL, WRITE, Stage, StageOption,
                     result_of)
FACES_FILE = "face_boxes.json"
SAVED = ("cache", "temporal.json")
#: Identity is reported only when a face is found in at least this share of frames.
MIN_FACE_SHARE = 0.9
#: Edits are compared with the offset edit on at most this many frames (two renders each).
OFFSET_FRAMES = 32

OPTIONS = (
    StageOption("temporal", bool,
                help="Measure the outputs' temporal consistency: warping error, TL-ID/TG-ID "
                     "(metrics.json 'temporal') [on for video files when OpenCV is installed]."),
    StageOption("temporal_frames", int, default=60, minimum=2,
                help="--temporal measures the first N input frames [60]."),
)


def prepare_temporal(ctx) -> None:
    """Resolve the automatic default (a real input and OpenCV present); an explicit
    ``--temporal`` without OpenCV fails here in one line."""
    from ..alignment.warp import require_cv2
    from ..video import is_scheme_source
    from .source import source_name

    if ctx.settings["temporal"] is None:
        try:
            require_cv2()
            wanted = not is_scheme_source(source_name(ctx.config))
        except DynodeError:
            wanted = False
        ctx.settings["temporal"] = wanted
    elif ctx.settings["temporal"]:
        require_cv2()


def _frames(batches, step: int = 1, transform=None):
    """Single frames of ``batches`` (every ``step``-th), each batch through ``transform``."""
    seen = 0
    for batch in batches:
        frames = batch if transform is None else transform(batch, seen)
        for frame in frames:
            if seen % step == 0:
                yield frame
            seen += 1


def _file_frames(path, step: int, batch_size: int):
    from ..video import read_video

    return _frames((b.frames for b in read_video(path, batch_size)), step)


def _crop_view(ctx):
    """A transform of input batches into the generator's view (its crops)."""
    from ..alignment.warp import warp_crops
    from ..inversion.frames import to_generator_input
    from ..render import to_uint8

    alignment, size = ctx.results[ALIGN], int(ctx.generator.resolution)
    matrices = alignment.matrices()

    def view(batch, start):
        if alignment.crop_mode is None:
            return warp_crops(batch, matrices[start:start + len(batch)], alignment.size)
        return to_uint8(to_generator_input(batch, size, alignment.crop_mode))
    return view


def _videos(ctx) -> dict[str, int]:
    """The outputs measured, with the step that picks their frames at input times."""
    names = {"reconstruction": 1, "interpolated": int(ctx.config.interpolate)}
    names.update({f"edited_{name}": 1 for name in ctx.results[EDIT]})
    return names


def _in_view(ctx, landmarks: np.ndarray, cropped: bool) -> np.ndarray:
    """Landmarks (pixel edges) in the frame, or mapped into the crops."""
    if not cropped:
        return landmarks
    matrices = ctx.results[ALIGN].matrices()[:len(landmarks)]
    centred = landmarks - 0.5
    return np.einsum("tij,tkj->tki", matrices[:, :, :2], centred) + matrices[:, None, :, 2] + 0.5


def face_track(ctx, limit: int):
    """(landmarks (T, 68, 2) in frame pixels, NaN where no face, or None; why not)."""
    from ..alignment import align_source, build_aligner
    from ..defaults import FACE_ALIGNER

    alignment = ctx.results[ALIGN]
    if alignment.landmarks is not None:
        return alignment.landmarks[:limit], None
    source = ctx.results[READ]
    try:
        found = align_source(build_aligner(FACE_ALIGNER), source.name, source.info, count=limit,
                             size=int(ctx.generator.resolution),
                             batch_size=ctx.config.batch_size, options=source.options)
    except DynodeError as exc:
        return None, str(exc)
    return found.landmarks, None


def _embedder(ctx):
    from ..defaults import FACE_EMBEDDINGS
    from ..plugins import get_registry

    registry = get_registry()

    def embed(frame, marks):
        return registry.create("metrics", FACE_EMBEDDINGS, frames=frame[None],
                               landmarks=marks[None])["embeddings"][0]
    return embed


def _view(ctx, limit, cropped, folder, landmarks=None, embed=None):
    """One view (frames or crops): every output and the input, in lockstep, pair by pair;
    (per video its numbers, why identity failed or None)."""
    from ..alignment import frame_batches
    from .temporal_meter import ViewMeter

    source, batch = ctx.results[READ], ctx.config.batch_size
    inputs = _frames(frame_batches(source.name, batch, limit, source.options),
                     transform=_crop_view(ctx) if cropped else None)
    streams = {name: _file_frames(folder / f"{name}.mp4", step, batch)
               for name, step in _videos(ctx).items()}
    meter = ViewMeter(list(streams), landmarks=landmarks, embed=embed)
    task = ctx.progress.task(f"temporal ({'crops' if cropped else 'frames'})", limit)
    for index, reference in zip(range(limit), inputs):
        try:
            frames = {name: next(stream) for name, stream in streams.items()}
        except StopIteration:
            break
        meter.add(reference, frames)
        task(1)
    return meter.result(), meter.identity_error


def offset_psnr(ctx, limit: int) -> dict:
    """Each edit's PSNR against the per-frame offset edit, rendered from codes on at most
    :data:`OFFSET_FRAMES` frames; ``{}`` when the run's edits are offset edits."""
    import torch

    from ..edits import propagate_edit
    from ..render import render_batches
    from ..temporal import psnr

    if ctx.config.propagate == "offset":
        return {}
    traj, picks = ctx.results[INVERT], np.unique(np.linspace(0, limit - 1, OFFSET_FRAMES).round())
    picks = torch.as_tensor(picks.astype(np.int64))
    found = {}
    for name, codes in ctx.results[EDIT].items():
        offset = propagate_edit(ctx.results[FIT], traj, ctx.edits[name], ctx.generator,
                                strategy="offset")
        # each render runs to its end (a generator left suspended inside torch.no_grad
        # would switch gradients off for the rest of the process when collected)
        ran = np.concatenate(list(render_batches(ctx.generator, codes[picks].float())))
        offset = np.concatenate(list(render_batches(ctx.generator,
                                                    torch.as_tensor(offset)[picks].float())))
        found[f"edited_{name}"] = float(np.mean([psnr(a, b) for a, b in zip(ran, offset)]))
    return found


def measure(ctx, _written) -> dict:
    """The ``temporal`` section: per video, its numbers; on ``--resume`` the saved one."""
    from .temporal_meter import assemble

    saved = ctx.folder.joinpath(*SAVED)
    if ctx.resume and saved.is_file():  # reused when it measured every output (no edit added)
        section = json.loads(saved.read_text())
        if all(name in section for name in _videos(ctx)):
            return section
    limit = min(len(ctx.results[INVERT]), int(ctx.settings["temporal_frames"]))
    landmarks, why = face_track(ctx, limit)
    pasted = bool(ctx["paste_back"])
    share = 0.0 if landmarks is None else float(np.isfinite(landmarks).all(axis=(1, 2)).mean())
    if landmarks is not None and share < MIN_FACE_SHARE:
        why = f"a face was found in {share:.0%} of the frames (under {MIN_FACE_SHARE:.0%})"
    embed = None
    if why is None:
        embed = _embedder(ctx)
    marks = None if landmarks is None else _in_view(ctx, landmarks, cropped=not pasted)
    frame, failed = _view(ctx, limit, not pasted, ctx.folder, marks, embed)
    aligned = _view(ctx, limit, True, ctx.folder / "aligned")[0] if pasted else None
    ctx["temporal_faces"] = (landmarks, share)
    return assemble(limit=limit, frame=frame, aligned=aligned, offset=offset_psnr(ctx, limit),
                    face_share=share, identity_reason=why or failed, faces_file=FACES_FILE)


def save(ctx, result: dict) -> None:
    from ..io import atomic_write_text
    from ..temporal import landmark_boxes

    landmarks, share = ctx.store.pop("temporal_faces", (None, 0.0))
    saved = ctx.folder.joinpath(*SAVED)
    saved.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(saved, json.dumps(result, indent=1))
    if landmarks is None:
        return
    boxes = landmark_boxes(landmarks)
    doc = {"format": "dynode.face-boxes/1", "frame_size": list(ctx.results[ALIGN].frame_size),
           "units": "input frame pixels, edges at integers: x0, y0, x1, y1 around the 68 landmarks",
           "found_share": round(share, 4),
           "boxes": [None if not np.isfinite(b).all() else [round(float(v), 2) for v in b]
                     for b in boxes]}
    atomic_write_text(ctx.folder / FACES_FILE, json.dumps(doc, indent=1))


def temporal_metrics(ctx) -> dict:
    return ctx.results[TEMPORAL]


def temporal_stage() -> Stage:
    return Stage(TEMPORAL, measure, take=result_of(WRITE), save=save,
                 description="warping error, TL-ID/TG-ID and PSNR of the written videos",
                 options=OPTIONS, active=lambda settings: settings["temporal"] is not False,
                 prepare=prepare_temporal, metrics=temporal_metrics)
