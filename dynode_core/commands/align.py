"""``dynode align``: a clip's aligned crops and per-frame transforms, for users who
invert elsewhere."""

from __future__ import annotations

import click

from ..params import with_threads


@click.command("align")
@with_threads
@click.argument("video", type=click.Path(exists=True))
@click.option("--out", type=click.Path(file_okay=False), required=True,
              help="Folder for aligned.mp4, alignment.safetensors and alignment.json.")
@click.option("--align", "aligner", default="face", show_default=True, metavar="NAME[:OPTION]",
              help="face, center, box:X,Y,W,H or none (`dynode list aligners`).")
@click.option("--size", type=click.IntRange(8), default=256, show_default=True,
              help="Side of the aligned crops in pixels.")
@click.option("--face-index", type=click.IntRange(0), default=None,
              help="--align face: which face to track, 0 = the largest in the first frame "
                   "with faces [0].")
@click.option("--smooth-center", type=click.FloatRange(0), default=1.0, show_default=True,
              help="Gaussian sigma (frames) over the crop's centre; 0 = off.")
@click.option("--smooth-axes", type=click.FloatRange(0), default=3.0, show_default=True,
              help="Gaussian sigma (frames) over the crop's size and angle; 0 = off.")
@click.option("--max-frames", type=click.IntRange(1), default=None, help="Only the first N frames.")
@click.option("--overwrite", is_flag=True, help="Replace the files of an earlier dynode align.")
@click.option("--quiet", is_flag=True, help="No progress or summary.")
def align(video, out, aligner, size, face_index, smooth_center, smooth_axes, max_frames,
          overwrite, quiet):
    """Align every frame of VIDEO: FFHQ-aligned face crops (or a fixed crop) and the
    transforms that map each frame onto its crop."""
    from pathlib import Path

    from ..alignment import align_video
    from ..errors import InputError

    folder = Path(out)
    target = folder / "alignment.json"
    if folder.exists() and not folder.is_dir():
        raise InputError(f"--out {folder} is a file; give a folder")
    if folder.is_dir() and any(folder.iterdir()) and not target.exists():
        raise InputError(f"--out {folder} holds files that are not a dynode align output; "
                         "choose a new or empty folder (nothing in it was touched)")
    if target.exists() and not overwrite:
        raise InputError(f"{target} exists; pass --overwrite to replace it")
    from ..progress import Progressor, started_task

    with Progressor(enabled=not quiet) as bar:
        result = align_video(video, aligner, size=size, out=out, max_frames=max_frames,
                             face_index=face_index, smooth_center=smooth_center,
                             smooth_axes=smooth_axes, progress=started_task(bar, "align"))
    if not quiet:
        counts = result.counts()
        click.echo(f"aligned {len(result)} frames ({counts['detected']} detected, "
                   f"{counts['filled']} filled, {counts['fixed']} fixed) -> {out}")


COMMANDS = [align]
