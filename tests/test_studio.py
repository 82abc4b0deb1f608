"""``dynode studio`` without a browser: the server's safety rules (token, Host, Origin, no
path traversal, writes only through render), the parameters checked as ``dynode run``
checks them, previews from the run's own codes, renders through ``add_edits`` (the
run's lock respected, cancellable), and the command's start and clean stop."""

import contextlib
import http.client
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import default_sigint
from dynode_core.run import RunConfig, run_pipeline
from dynode_core.studio import StudioServer

SMALL = dict(demo_frames=6, inversion_steps=1, dynamics="linear", interpolate=2, batch_size=4,
             device="cpu", edits=["sefa:0:1"])
WAIT = 120  # seconds a render may take on a loaded machine; never a timing assertion


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("studio") / "run"
    run_pipeline(RunConfig(out=str(out), **SMALL), progress=False)
    return out


@contextlib.contextmanager
def serving(root):
    server = StudioServer(root)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="module")
def studio(run_dir):
    with serving(run_dir) as server:
        yield server


def request(server, path, *, method="GET", body=None, headers=None, token=True):
    """(status, headers, body bytes) of one request to the studio."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    prefix = f"/{server.token}/" if token else "/"
    sent = {"Host": f"127.0.0.1:{server.port}", **(headers or {})}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        sent.setdefault("Content-Type", "application/json")
    connection.request(method, prefix + path, body=data, headers=sent)
    reply = connection.getresponse()
    content = reply.read()
    connection.close()
    return reply.status, dict(reply.getheaders()), content


def torch_equal(a, b) -> bool:
    import torch

    return bool(torch.equal(a, b))


def error_of(content: bytes) -> str:
    return json.loads(content)["error"]


def png(content: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(content)).convert("RGB"))


# ------------------------------------------------------------------ safety
def test_the_page_needs_the_token(studio):
    assert request(studio, "")[0] == 200
    assert request(studio, "", token=False)[0] == 404
    assert request(studio, "wrong-token/api/state", token=False)[0] == 404
    assert studio.server_address[0] == "127.0.0.1"


@pytest.mark.parametrize("host", ["evil.example:80", "evil.example", "127.0.0.1:1", ""])
def test_a_foreign_host_header_is_refused(studio, host):
    status, _, content = request(studio, "api/state", headers={"Host": host})
    assert status == 403 and "Host" in error_of(content)


def test_a_foreign_origin_is_refused_and_its_own_accepted(studio):
    status, _, content = request(studio, "api/state", headers={"Origin": "http://evil.example"})
    assert status == 403 and "Origin" in error_of(content)
    own = {"Origin": f"http://127.0.0.1:{studio.port}"}
    assert request(studio, "api/state", headers=own)[0] == 200


@pytest.mark.parametrize("path", [
    "files/run/../config.toml", "files/run/..%2f..%2fetc%2fpasswd", "files/run/%2e%2e/x",
    "files/run//etc/passwd", "files/run/.dynode-run.lock", "files/run/cache/../../run",
    "static/../server.py", "static/%2e%2e/server.py", "files/nope/input.mp4",
    "files/run/", "files/run/dynamics"])
def test_no_file_outside_the_run_folder_is_served(studio, path):
    status, _, content = request(studio, path)
    assert status in (400, 404), (path, status)


def test_a_link_that_leads_out_of_the_run_is_not_followed(run_dir, studio, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    link = run_dir / "leak.txt"
    link.symlink_to(secret)
    try:
        assert request(studio, "files/run/leak.txt")[0] == 404
    finally:
        link.unlink()


def test_run_files_and_assets_are_served(studio, run_dir):
    status, headers, content = request(studio, "files/run/input.mp4")
    assert status == 200 and content == (run_dir / "input.mp4").read_bytes()
    assert headers["Content-Type"] == "video/mp4"
    assert request(studio, "static/studio.js")[0] == 200
    page = request(studio, "")[2].decode()
    assert "http" not in page.replace("http-equiv", "")  # no CDN: every asset is local


def test_the_only_writes_are_render_and_cancel(studio):
    assert request(studio, "api/state", method="POST", body={})[0] == 405
    status, _, content = request(studio, "api/render", method="POST", body={},
                                 headers={"Content-Type": "text/plain"})
    assert status == 415


# ------------------------------------------------------------------ parameters
@pytest.mark.parametrize("query, message", [
    ("edit=sefa:0:nan", "finite"),
    ("edit=nosuch:0:1", "nosuch"),
    ("edit=sefa:zz:1", "no direction 'zz'"),
    ("edit=sefa", "EDITOR:DIRECTION"),
    ("propagate=warp", "valid propagations: dynamics, offset"),
    ("propagate=cde", "controlled dynamics"),
    ("interpolate=0", "setting interpolate must be an integer between 1 and 1,000"),
    ("interpolate=0", "setting interpolate must be an integer between 1 and"),
    ("interpolate=two", "interpolate must be an integer"),
    ("index=11", "index must be between 0 and 10"),
    ("index=-1", "index must be between 0 and 10"),
    ("paste_back=1", "paste-back needs a run that was aligned"),
    ("paste_back=maybe", "paste_back must be true or false"),
])
def test_preview_parameters_are_checked_in_one_line(studio, query, message):
    status, _, content = request(studio, "api/preview?" + query)
    assert status == 400
    assert message in error_of(content) and "\n" not in error_of(content)


def test_the_state_lists_the_generators_directions_and_the_runs_settings(studio):
    state = json.loads(request(studio, "api/state")[2])
    specs = {f"{d['editor']}:{d['direction']}" for d in state["directions"]}
    assert {"sefa:0", "ganspace:0", "supervised:hue"} <= specs
    assert state["frames"] == 6 and state["interpolate"] == 2 and state["propagate"] == "offset"
    assert state["videos"][:3] == ["input.mp4", "reconstruction.mp4", "interpolated.mp4"]
    assert not state["aligned"] and not state["paste_back"]


def test_the_preview_is_the_runs_edit_frame_and_changes_with_the_strength(studio, run_dir):
    from dynode_core.video import read_all

    rendered = read_all(run_dir / "edited_sefa-0-1.mp4").frames
    status, headers, content = request(studio, "api/preview?edit=sefa:0:1&index=4")
    assert status == 200 and headers["Content-Type"] == "image/png"
    assert float(headers["X-Seconds-Per-Frame"]) >= 0
    frame = png(content)
    assert frame.shape == rendered[2].shape
    # the same codes as the run's video of this edit (frame 2 = index 4 at x2), up to the codec
    assert np.abs(frame.astype(int) - rendered[2]).mean() < 4
    stronger = png(request(studio, "api/preview?edit=sefa:0:4&index=4")[2])
    assert np.abs(stronger.astype(int) - frame).mean() > 2


def test_two_directions_combine_in_the_preview(studio):
    one = png(request(studio, "api/preview?edit=sefa:0:3&index=0")[2])
    both = png(request(studio, "api/preview?edit=sefa:0:3&edit=sefa:1:3&index=0")[2])
    assert np.abs(both.astype(int) - one).mean() > 1


# ------------------------------------------------------------------ render
def wait_job(server) -> dict:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        job = json.loads(request(server, "api/job")[2])
        if job["status"] != "running":
            return job
        time.sleep(0.2)
    raise AssertionError("the render did not finish")


@pytest.mark.parametrize("body, message", [
    ({"edits": ["sefa:0:1", "sefa:1:1"]}, "one direction"),
    ({"edits": []}, "one direction"),
    ({"edits": ["sefa:1:1"], "propagate": "dynamics"}, "this run's propagate is 'offset'"),
    ({"edits": ["sefa:1:1"], "paste_back": True}, "this run's paste_back is False"),
    ({"edits": ["sefa:1:inf"]}, "finite"),
    ({"edits": ["sefa:1:1"], "run": "other"}, "no run 'other'"),
])
def test_a_render_is_checked_before_it_starts(studio, body, message):
    status, _, content = request(studio, "api/render", method="POST", body=body)
    assert status == 400 and message in error_of(content)


def test_render_adds_the_edit_as_dynode_run_edit_would(tmp_path):
    out = tmp_path / "run"
    run_pipeline(RunConfig(out=str(out), **SMALL), progress=False)
    first = (out / "edited_sefa-0-1.mp4").read_bytes()
    with serving(out) as server:
        status, _, content = request(server, "api/render", method="POST",
                                     body={"edits": ["sefa:1:-2"], "propagate": "offset"})
        assert status == 202, content
        job = wait_job(server)
        assert job["status"] == "done", job
        assert job["file"] == "edited_sefa-1--2.mp4"
        state = json.loads(request(server, "api/state")[2])
        assert "edited_sefa-1--2.mp4" in state["videos"]
        assert state["edits"] == ["sefa:0:1", "sefa:1:-2"]
        status, _, content = request(server, "api/render", method="POST",
                                     body={"edits": ["sefa:1:-2"]})
        assert status == 202, content
        job = wait_job(server)
        assert job["status"] == "failed", job
        assert job["error"].endswith("already: edited_sefa-1--2.mp4")
    assert (out / "edited_sefa-0-1.mp4").read_bytes() == first  # reused, not rendered again
    whole = tmp_path / "whole"
    run_pipeline(RunConfig(out=str(whole), **{**SMALL, "edits": ["sefa:0:1", "sefa:1:-2"]}),
                 progress=False)
    from dynode_core import LatentTrajectory, get_registry
    from dynode_core.render import render_all
    from dynode_core.video import read_all

    codes = LatentTrajectory.load(out / "edited_sefa-1--2.safetensors").latents
    assert torch_equal(codes, LatentTrajectory.load(whole / "edited_sefa-1--2.safetensors").latents)
    frames = render_all(get_registry().create("generators", "shapes64").eval(), codes)
    added = read_all(out / "edited_sefa-1--2.mp4").frames
    assert added.shape == frames.shape
    assert np.abs(added.astype(int) - frames).mean() < 4  # the codec's loss only
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["edits"]["sefa-1--2"] == {"edit": "sefa:1:-2", "file": "edited_sefa-1--2.mp4"}
    assert "edited_sefa-1--2.mp4" in (out / "report.html").read_text()


def test_a_render_is_refused_while_another_process_writes_the_run(run_dir, studio):
    from dynode_core.run.folder import RunLock

    lock = RunLock(run_dir)  # as a running `dynode run --resume` holds it
    try:
        status, _, content = request(studio, "api/render", method="POST",
                                     body={"edits": ["sefa:2:1"]})
        assert status == 202, content
        job = wait_job(studio)
    finally:
        lock.release()
    assert job["status"] == "failed" and "in use by another dynode process" in job["error"]
    assert "\n" not in job["error"]
    assert not (run_dir / "edited_sefa-2-1.mp4").exists()
    assert request(studio, "api/state")[0] == 200  # the server keeps running


def test_a_render_can_be_cancelled_leaving_the_run_as_it_was(run_dir, studio):
    config = (run_dir / "config.toml").read_text()
    status, _, _ = request(studio, "api/render", method="POST", body={"edits": ["sefa:3:1"]})
    assert status == 202
    second = request(studio, "api/render", method="POST", body={"edits": ["sefa:3:2"]})
    assert second[0] == 400 and "running already" in error_of(second[2])
    status, _, content = request(studio, "api/cancel", method="POST", body={})
    assert status == 200 and json.loads(content)["status"] == "cancelled"
    assert (run_dir / "config.toml").read_text() == config
    assert not (run_dir / "edited_sefa-3-1.mp4").exists()


# ------------------------------------------------------------------ the command
def test_the_command_prints_the_url_and_stops_cleanly_on_ctrl_c(run_dir):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([sys.executable, "-m", "dynode_core", "studio", str(run_dir),
                                "--no-browser"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=env, preexec_fn=default_sigint)
    try:
        line = process.stdout.readline()
        assert line.startswith("dynode studio: http://127.0.0.1:"), line
        url = line.split()[2]
        port = int(url.split(":")[2].split("/")[0])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", url.split(str(port), 1)[1])
        assert connection.getresponse().status == 200
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "stopped" in out and "Traceback" not in err


def test_a_folder_without_runs_is_one_line(tmp_path):
    done = subprocess.run([sys.executable, "-m", "dynode_core", "studio", str(tmp_path),
                           "--no-browser"], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "is not a finished dynode run, nor a folder of runs" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_batch_folder_lists_its_runs_with_thumbnails(run_dir, tmp_path):
    batch = tmp_path / "batch"
    batch.mkdir()
    (batch / "clip").symlink_to(run_dir, target_is_directory=True)
    with serving(batch) as server:
        runs = json.loads(request(server, "api/runs")[2])
        assert runs == [{"id": "clip", "name": "clip"}]
        status, headers, content = request(server, "api/thumb?run=clip")
        assert status == 200 and png(content).shape == (64, 64, 3)
        assert request(server, "api/state?run=clip")[0] == 200
        assert request(server, "files/clip/input.mp4")[0] == 200


def test_an_aligned_run_previews_pasted_back_like_its_videos(tmp_path):
    from dynode_core.video import read_all

    out = tmp_path / "boxed"
    run_pipeline(RunConfig(out=str(out), align="box:16,8,40,40", **SMALL), progress=False)
    pasted = read_all(out / "edited_sefa-0-1.mp4").frames
    with serving(out) as server:
        state = json.loads(request(server, "api/state")[2])
        assert state["aligned"] and state["paste_back"]
        status, _, content = request(server, "api/preview?edit=sefa:0:1&index=2")
        assert status == 200, content
        frame = png(content)
        crop = png(request(server, "api/preview?edit=sefa:0:1&index=2&paste_back=0")[2])
    assert frame.shape == pasted[1].shape
    assert np.abs(frame.astype(int) - pasted[1]).mean() < 4  # the run's own paste-back
    assert np.abs(frame.astype(int) - crop).mean() > 4  # the crop is not the frame


def test_a_busy_port_is_one_line(studio, run_dir):
    from dynode_core import OutputError

    with pytest.raises(OutputError, match=f"cannot listen on 127.0.0.1:{studio.port}"):
        StudioServer(run_dir, studio.port)


def test_direction_files_are_offered_and_previewed(run_dir, tmp_path):
    import torch

    folder = tmp_path / "directions"
    folder.mkdir()
    torch.manual_seed(0)
    with serving(run_dir) as server:
        dim = server.session(None).generator.latent_dim
    torch.save(torch.randn(dim), folder / "mine.pt")
    (folder / "notes.txt").write_text("not a direction")
    server = StudioServer(run_dir, directions=folder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        state = json.loads(request(server, "api/state")[2])
        files = [d["direction"] for d in state["directions"] if d["editor"] == "file"]
        assert files == [str((folder / "mine.pt").resolve())]
        plain = png(request(server, "api/preview?index=0")[2])
        status, _, content = request(server, f"api/preview?edit=file:{files[0]}:3&index=0")
        assert status == 200, content
        assert np.abs(png(content).astype(int) - plain).mean() > 1
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.parametrize("header, status, part", [
    ("bytes=0-9", 206, slice(0, 10)), ("bytes=-5", 206, slice(-5, None)),
    ("bytes=100-", 206, slice(100, None)), ("bytes=0-99999999", 206, slice(0, None)),
    ("bytes=99999999-", 416, None), ("bytes=5-2", 416, None), ("items=0-1", 416, None),
    ("bytes=0-1,4-5", 416, None)])
def test_videos_are_served_in_ranges_so_the_page_can_seek(studio, run_dir, header, status, part):
    data = (run_dir / "input.mp4").read_bytes()
    got, headers, content = request(studio, "files/run/input.mp4", headers={"Range": header})
    assert got == status
    if part is not None:
        assert content == data[part]
        assert headers["Content-Range"].endswith(f"/{len(data)}")


def test_a_tuned_run_previews_with_its_tuned_generator(tmp_path):
    from dynode_core import get_registry
    from dynode_core.render import render_all
    from dynode_core.video import read_all

    out = tmp_path / "tuned"
    run_pipeline(RunConfig(out=str(out), tune="pti", tune_steps=3, **SMALL), progress=False)
    video = read_all(out / "edited_sefa-0-1.mp4").frames
    with serving(out) as server:
        assert json.loads(request(server, "api/state")[2])["tuned"]
        frame = png(request(server, "api/preview?edit=sefa:0:1&index=0")[2])
        codes = server.session(None).codes(("sefa:0:1",), "dynamics", 2)
    base = render_all(get_registry().create("generators", "shapes64").eval(), codes[:1])[0]
    assert np.abs(frame.astype(int) - video[0]).mean() < 4  # the run's tuned rendering
    assert not np.array_equal(frame, base)  # not the base generator's
