"""What each studio URL answers (after the server's safety checks), one function each.

=======================  ======  =================================================
path (after ``/TOKEN/``)  method  answer
=======================  ======  =================================================
(empty)                  GET     the page
static/NAME              GET     the page's own assets (from the package)
files/RUN/PATH           GET     a file inside a run folder (videos, images)
api/runs                 GET     the runs, for the batch list
api/thumb?run=           GET     a run's first input frame (PNG thumbnail)
api/state?run=           GET     a run's settings, directions, videos, timing
api/preview?run=&...     GET     the frame under the playhead (PNG)
api/render               POST    start rendering one edit into the run
api/job                  GET     the render's status
api/cancel               POST    cancel the render
=======================  ======  =================================================
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from .files import STATIC, Refused, inside

VIDEO_ORDER = ("input.mp4", "reconstruction.mp4", "interpolated.mp4")


def route(handler, method: str, rest: str, query: dict) -> None:
    head, _, tail = rest.partition("/")
    if method == "POST":
        action = POSTS.get(rest)
        if action is None:
            raise Refused(405, "refused: the only writes are api/render and api/cancel")
        return action(handler, handler.read_json())
    if rest == "":
        return handler.send_file(STATIC / "index.html")
    if head == "static":
        return handler.send_file(inside(STATIC, tail))
    if head == "files":
        run_id, _, relative = tail.partition("/")
        return handler.send_file(inside(handler.server.run_folder(unquote_id(run_id)),
                                        relative))
    action = GETS.get(rest)
    if action is None:
        raise Refused(404, "not found")
    return action(handler, query)


def unquote_id(run_id: str) -> str:
    from urllib.parse import unquote

    return unquote(run_id)


def _run_id(query: dict) -> str | None:
    values = query.get("run")
    return values[0] if values else None


def runs(handler, query) -> None:
    handler.send_json([{"id": run_id, "name": run_id} for run_id in handler.server.runs])


def thumb(handler, query) -> None:
    from .frames import frame_at, png_bytes

    folder = handler.server.run_folder(_run_id(query))
    handler.send_bytes(png_bytes(frame_at(inside(folder, "input.mp4"), 0), 160), "image/png")


def videos(folder: Path) -> list[str]:
    """The run's videos, in the report's order: input, reconstruction, interpolated,
    then the edits."""
    found = [name for name in VIDEO_ORDER if (folder / name).is_file()]
    return found + sorted(p.name for p in folder.glob("edited_*.mp4"))


def state(handler, query) -> None:
    server, run_id = handler.server, _run_id(query)
    session = server.session(run_id)
    config = session.reload_config()
    handler.send_json({
        "run": session.folder.name, "id": run_id or session.folder.name,
        "frames": len(session.trajectory), "fps": session.fps,
        "resolution": session.generator.resolution, "generator": config.generator,
        "tuned": session.tuned, "propagate": config.propagate,
        "propagations": propagations(session), "interpolate": config.interpolate,
        "edits": list(config.edits), "aligned": session.alignment is not None,
        "paste_back": session.pasted, "directions": session.directions(),
        "videos": videos(session.folder), "seconds_per_frame": session.seconds_per_frame,
        "job": server.job.status()})


def propagations(session) -> list[str]:
    from ..edits import PROPAGATIONS

    return [name for name in PROPAGATIONS if name != "cde" or session.dynamics.controlled]


def preview(handler, query) -> None:
    from .frames import png_bytes
    from .params import preview_request

    session = handler.server.session(_run_id(query))
    frame = session.preview(preview_request(session, query))
    handler.send_bytes(png_bytes(frame), "image/png",
                       extra={"X-Seconds-Per-Frame": f"{session.seconds_per_frame:.4f}",
                              "X-Seconds-Edit": f"{session.seconds_edit:.4f}"})


def job(handler, query) -> None:
    handler.send_json(handler.server.job.status())


def render(handler, body) -> None:
    from .params import render_edit

    if not isinstance(body, dict):
        raise InputError("a render request is a JSON object")
    server = handler.server
    session = server.session(body.get("run"))
    spec = render_edit(session, body)
    handler.send_json(server.job.start(session.folder, spec), 202)


def cancel(handler, body) -> None:
    handler.send_json(handler.server.job.cancel())


GETS = {"api/runs": runs, "api/thumb": thumb, "api/state": state, "api/preview": preview,
        "api/job": job}
POSTS = {"api/render": render, "api/cancel": cancel}
