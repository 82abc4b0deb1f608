"""``dynode batch`` end to end on world clips, with the ``local`` executor (a pool of two
worker processes, and sequential through the CLI) and on a local Ray with 2 CPUs.

Two workers on two CPUs run one torch thread each, so the references are ``dynode run``
(``run_pipeline``) with one thread: same seed, same thread count, same codes.
"""

import json

import pytest
import tomli_w
import torch

from dynode_core import RunConfig, run_pipeline
from dynode_core.app import run_batch

from conftest import REPO, run_dynode

SMALL = dict(inversion_steps=2, dynamics="linear", interpolate=2, batch_size=4, device="cpu")
CLIPS = ("circle", "bounce", "spin")
NO_RAY = 'needs Ray: pip install -e ".[ray]"'


def write_manifest(path, videos):
    path.write_text(tomli_w.dumps({**SMALL, "video": videos}))
    return path


def corrupt_video(path):
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4)
    return path


def assert_same_codes(folder, reference):
    """The run's code files equal ``dynode run``'s byte for byte (headers included)."""
    for name in ("latents.safetensors", "interpolated.safetensors"):
        assert (folder / name).read_bytes() == (reference / name).read_bytes(), \
            f"{folder.name}/{name}"


@pytest.fixture(scope="module")
def references(tmp_path_factory):
    """``dynode run`` on each clip with one torch thread."""
    out = tmp_path_factory.mktemp("references")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for motion in CLIPS:
            run_pipeline(RunConfig(input=f"world:{motion}:6", out=str(out / motion), **SMALL),
                         progress=False)
    finally:
        torch.set_num_threads(threads)
    return out


@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray with 2 CPUs; its workers load the worker-killing test plugin."""
    ray = pytest.importorskip("ray", reason=NO_RAY)
    env = {"PYTHONPATH": str(REPO / "tests"), "DYNODE_PLUGINS": "batch_killer"}
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": env})
    yield ray
    ray.shutdown()


#: Ray variants start a Ray cluster (tens of seconds each): `slow`, run by .ci/run.
RAY = pytest.param("ray", marks=pytest.mark.slow)


@pytest.fixture(params=["local", RAY])
def executor(request, monkeypatch):
    """The executor's name, with the worker-killing plugin active in its workers."""
    monkeypatch.setenv("DYNODE_PLUGINS", "batch_killer")  # spawned processes inherit it
    if request.param == "ray":
        request.getfixturevalue("ray_cluster")
    return request.param


@pytest.mark.parametrize("executor_args", [
    pytest.param([], id="local-sequential"),
    pytest.param(["--executor", "ray", "--workers", "2"], id="ray-own-cluster",
                 marks=pytest.mark.slow)])
def test_cli_names_the_corrupt_video_and_exits_1(tmp_path, executor_args):
    if executor_args:
        pytest.importorskip("ray", reason=NO_RAY)
    bad = corrupt_video(tmp_path / "broken.mp4")
    path = write_manifest(tmp_path / "m.toml", [{"input": "world:circle:6"}, {"input": str(bad)}])
    proc = run_dynode("batch", str(path), "--out", str(tmp_path / "out"), *executor_args)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == "Error: 1 of 2 videos failed: broken"
    doc = json.loads((tmp_path / "out" / "batch.json").read_text())
    [ok, failed] = doc["videos"]
    assert (ok["name"], ok["status"], failed["name"], failed["status"]) == \
        ("world-circle-6", "ok", "broken", "failed")
    assert "cannot read video" in failed["error"] and "broken.mp4" in failed["error"]
    assert ok["psnr"] > 20 and (tmp_path / "out" / "world-circle-6" / "metrics.json").is_file()
    index = (tmp_path / "out" / "index.html").read_text()  # the page linking every run
    assert 'href="world-circle-6/report.html">world-circle-6</a>' in index
    assert f"{ok['psnr']:.2f}" in index and "broken" in index and "cannot read video" in index
    assert (tmp_path / "out" / "world-circle-6" / "report.html").is_file()


def test_three_clips_match_dynode_run_also_after_a_worker_dies(executor, references, tmp_path):
    videos = [{"input": "world:circle:6", "name": "circle-killme"},
              {"input": "world:bounce:6"}, {"input": "world:spin:6"}]
    out = tmp_path / "out"
    summary = run_batch(write_manifest(tmp_path / "m.toml", videos), out, executor=executor,
                        workers=2, progress=False)
    results = {r.name: r for r in summary.results}
    assert [r.status for r in results.values()] == ["ok"] * 3, summary.to_dict()
    assert summary.workers == 2 and {r.threads for r in results.values()} == {1}
    assert (out / "circle-killme.killed").is_file()  # its first worker did die
    assert results["circle-killme"].attempts == 2 and results["world-spin-6"].attempts == 1
    assert len({r.worker for r in results.values()}) >= 2
    for name, motion in (("circle-killme", "circle"), ("world-bounce-6", "bounce"),
                         ("world-spin-6", "spin")):
        assert_same_codes(out / name, references / motion)


def test_a_corrupt_file_fails_alone_and_resume_skips_finished_runs(executor, references,
                                                                   tmp_path):
    bad = corrupt_video(tmp_path / "take.mp4")
    path = write_manifest(tmp_path / "m.toml", [{"input": "world:circle:6"}, {"input": str(bad)},
                                                {"input": "world:spin:6"}])
    out = tmp_path / "out"
    first = run_batch(path, out, executor=executor, workers=2, progress=False)
    assert [(r.name, r.status) for r in sorted(first.results, key=lambda r: r.index)] == \
        [("world-circle-6", "ok"), ("take", "failed"), ("world-spin-6", "ok")]
    assert "take.mp4" in first.failed[0].error and "\n" not in first.failed[0].error
    # an interruption: circle's last output never written; the broken take re-exported
    (out / "world-circle-6" / "metrics.json").unlink()
    bad.unlink()
    proc = run_dynode("world", "video", "--motion", "bounce", "--frames", "6", "--out", str(bad))
    assert proc.returncode == 0, proc.stderr
    spin = out / "world-spin-6" / "latents.safetensors"
    before = spin.stat().st_mtime_ns
    second = run_batch(path, out, executor=executor, workers=2, resume=True, progress=False)
    statuses = {r.name: r.status for r in second.results}
    assert statuses == {"world-circle-6": "ok", "take": "ok", "world-spin-6": "skipped"}, \
        second.to_dict()
    assert sum(r.attempts for r in second.results) == 2  # two videos ran, one was skipped
    assert spin.stat().st_mtime_ns == before  # the finished run was not touched
    assert_same_codes(out / "world-circle-6", references / "circle")
    doc = json.loads((out / "batch.json").read_text())
    assert doc["counts"] == {"ok": 2, "failed": 0, "skipped": 1, "pending": 0}


def _delta(folder):
    from dynode_core.app import read_generator_delta

    return read_generator_delta(folder / "tuned.safetensors")


@pytest.mark.parametrize("executor_name", ["local", RAY])
def test_tuned_videos_on_one_worker_match_their_own_runs(executor_name, tmp_path, request):
    """A worker shares one loaded generator between its videos; tuning one video must not
    leak into the next (each run tunes its own copy)."""
    if executor_name == "ray":
        request.getfixturevalue("ray_cluster")
    tuned = dict(tune="pti", tune_steps=5)
    videos = [{"input": "world:circle:4", "name": "first", **tuned},
              {"input": "world:bounce:4", "name": "second", **tuned},
              {"input": "world:spin:4", "name": "plain"}]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        summary = run_batch(write_manifest(tmp_path / "m.toml", videos), tmp_path / "batch",
                            executor=executor_name, workers=1, progress=False)
        results = {r.name: r for r in summary.results}
        assert [r.status for r in results.values()] == ["ok"] * 3, \
            [(r.name, r.error) for r in results.values()]
        assert len({r.worker for r in results.values()}) == 1  # one worker ran all three
        torch.set_num_threads(results["first"].threads)
        for video in videos:
            settings = {k: v for k, v in video.items() if k not in ("input", "name")}
            run_pipeline(RunConfig(input=video["input"], out=str(tmp_path / video["name"]),
                                   **SMALL, **settings), progress=False)
    finally:
        torch.set_num_threads(threads)
    for name in ("first", "second"):
        (batch_tensors, batch_config), (own_tensors, own_config) = \
            _delta(tmp_path / "batch" / name), _delta(tmp_path / name)
        assert batch_config["base_sha256"] == own_config["base_sha256"], name
        assert sorted(batch_tensors) == sorted(own_tensors), name
        assert all(torch.equal(batch_tensors[k], own_tensors[k]) for k in own_tensors), name
    for name in ("first", "second", "plain"):
        assert_same_codes(tmp_path / "batch" / name, tmp_path / name)
