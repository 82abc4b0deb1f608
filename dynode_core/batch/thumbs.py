"""Small PNG thumbnails for the batch's ``index.html``: one frame of each run's input and
of its edited (or else interpolated) video, decoded with PyAV and kept in
``BATCH/thumbs/`` (made again only when the video is newer than its thumbnail)."""

from __future__ import annotations

from pathlib import Path

THUMBS = "thumbs"
#: The longer side of a thumbnail, in pixels.
THUMB_SIZE = 128


def middle_frame(video: Path):
    """The frame halfway through ``video`` as a PIL image (the first if the count is
    unknown); None when it cannot be decoded."""
    import av

    try:
        with av.open(str(video)) as container:
            stream = container.streams.video[0]
            middle = (stream.frames or 0) // 2
            frame = None
            for index, frame in enumerate(container.decode(stream)):
                if index >= middle:
                    break
            return None if frame is None else frame.to_image()
    except (av.error.FFmpegError, OSError, IndexError):
        return None


def thumbnail(video: Path, target: Path) -> bool:
    """Write ``target`` (PNG, at most :data:`THUMB_SIZE` px) from ``video``; True when
    it exists afterwards."""
    from ..io import atomic_path

    if target.is_file() and target.stat().st_mtime >= video.stat().st_mtime:
        return True
    image = middle_frame(video)
    if image is None:
        return False
    image.thumbnail((THUMB_SIZE, THUMB_SIZE))
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as tmp:
        image.save(tmp, format="PNG")
    return True


def output_video(run: Path) -> tuple[Path, str] | None:
    """The run's video to show beside its input: the first edit, else the interpolation."""
    edited = sorted(run.glob("edited_*.mp4"))
    if edited:
        return edited[0], "edited " + edited[0].stem.removeprefix("edited_")
    if (run / "interpolated.mp4").is_file():
        return run / "interpolated.mp4", "interpolated"
    return None


def run_thumbnails(batch: Path, name: str) -> list[dict]:
    """``[{src, label, video}]``: the run's input and output thumbnails that could be made
    (paths relative to the batch folder)."""
    run = batch / name
    shown = []
    candidates = [(run / "input.mp4", "input")]
    output = output_video(run)
    if output is not None:
        candidates.append(output)
    for video, label in candidates:
        if not video.is_file():
            continue
        target = batch / THUMBS / f"{name}-{video.stem}.png"
        if thumbnail(video, target):
            shown.append({"src": f"{THUMBS}/{target.name}", "label": label,
                          "video": f"{name}/{video.name}"})
    return shown
