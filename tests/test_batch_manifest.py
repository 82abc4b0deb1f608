"""``dynode batch`` without running a video: the manifest's checks, the executor hook,
the planning of run folders, and one-line errors from the command."""

import json

import pytest

from dynode_core import BatchWorker, Executor, InputError, JobResult, hookimpl
from dynode_core.app import read_manifest
from dynode_core.batch import plan_batch, run_batch
from dynode_core.errors import DynodeError, OutputError
from dynode_core.plugins import get_plugin_manager, get_registry

from conftest import run_dynode

HEAD = 'dynamics = "linear"\ninterpolate = 2\ndevice = "cpu"\n'


def manifest(tmp_path, text, name="m.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_toml_defaults_apply_and_videos_override(tmp_path):
    (tmp_path / "clip.gif").write_bytes(b"GIF89a")
    path = manifest(tmp_path, HEAD + '[[video]]\ninput = "world:circle:6"\n'
                    '[[video]]\ninput = "clip.gif"\ninterpolate = 4\nedits = ["sefa:0:2"]\n'
                    'name = "take-1"\n')
    first, second = read_manifest(path)
    assert (first.name, first.config.input, first.config.interpolate) == \
        ("world-circle-6", "world:circle:6", 2)
    assert second.name == "take-1" and second.config.interpolate == 4
    assert second.config.input == str(tmp_path / "clip.gif")  # relative to the manifest
    assert second.config.edits == ["sefa:0:2"] and second.config.dynamics == "linear"


def test_csv_with_commented_defaults(tmp_path):
    path = manifest(tmp_path, '# dynamics = "linear"\n# seed = 3\n'
                    "input,interpolate,edits,gif\n"
                    "world:circle:6,,sefa:0:2;sefa:1:-1,true\n"
                    "world:spin:6,3,,\n", "m.csv")
    first, second = read_manifest(path)
    assert first.config.interpolate == 4 and first.config.gif is True  # empty: the default
    assert first.config.edits == ["sefa:0:2", "sefa:1:-1"] and first.config.seed == 3
    assert second.config.interpolate == 3 and second.config.edits == []
    assert second.config.dynamics == "linear" and second.name == "world-spin-6"


@pytest.mark.parametrize("body, needle", [
    ('[[video]]\ninput = "world:circle:6"\ndynamcs = "ode"\n', "unknown key dynamcs"),
    ('[[video]]\ninput = "world:circle:6"\ninterpolate = "two"\n', "interpolate must be"),
    ('[[video]]\ninput = "world:circle:6"\nedits = "sefa:0"\n', "edits must be a list"),
    ('[[video]]\ninput = "missing.mp4"\n', "does not exist"),
    ('[[video]]\ninput = "world:circle:6"\ndynamics = "lineer"\n', "valid names"),
    ('[[video]]\ninput = "world:circle:6"\nedits = ["nope:0"]\n', "unknown editors name"),
    ('[[video]]\ninput = "world:circle:6"\nout = "x"\n', "'out' cannot be set"),
    ('[[video]]\ninput = "world:circle:6"\n[[video]]\ninput = "world:circle:6"\n',
     "videos 1 and 2 both run in 'world-circle-6'"),
    ('[[video]]\ninput = "world:circle:6"\nname = "../up"\n', "name must be a folder name"),
    ('input = "world:circle:6"\n[[video]]\nseed = 1\n', "set per video"),
    ('dynamics = "linear"\n', "[[video]] tables"),
])
def test_a_bad_manifest_is_refused_in_one_line(tmp_path, body, needle):
    with pytest.raises(InputError) as info:
        read_manifest(manifest(tmp_path, body))
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_every_problem_is_listed_before_anything_runs(tmp_path):
    path = manifest(tmp_path, '[[video]]\ninput = "a.mp4"\n[[video]]\ninput = "world:spin:6"\n'
                    'seed = "x"\n[[video]]\ninput = "world:circle:6"\n')
    with pytest.raises(InputError, match=r"video 1 \(a.mp4\).*; video 2 \(world:spin:6\)"):
        read_manifest(path)


def test_cli_refuses_a_bad_manifest_with_one_line_and_writes_nothing(tmp_path):
    path = manifest(tmp_path, '[[video]]\ninput = "gone.mp4"\n')
    proc = run_dynode("batch", str(path), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("Error: ") and "gone.mp4" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_planning_refuses_an_existing_run_without_resume_and_sorts_it_with(tmp_path):
    [entry] = read_manifest(manifest(tmp_path, HEAD + '[[video]]\ninput = "world:circle:6"\n'))
    out = tmp_path / "out"
    folder = out / entry.name
    folder.mkdir(parents=True)
    (folder / "x.txt").write_text("mine")  # not a dynode run: never touched
    with pytest.raises(OutputError, match="pass --resume"):
        plan_batch([entry], out)
    with pytest.raises(OutputError, match="not a dynode run folder"):
        plan_batch([entry], out, resume=True)
    (folder / "x.txt").unlink()
    (folder / ".dynode-run").write_text("dynode run folder\n")
    [job], skipped = plan_batch([entry], out, resume=True)  # interrupted: continued
    assert job.resume and not skipped and job.config.out == str(folder)
    (folder / "config.toml").write_text(job.config.to_toml())
    (folder / "metrics.json").write_text(json.dumps({"reconstruction_psnr": 30.5}))
    jobs, [done] = plan_batch([entry], out, resume=True)  # finished: skipped
    assert not jobs and done.status == "skipped" and done.psnr == 30.5
    (folder / "config.toml").write_text(job.config.to_toml().replace("seed = 0", "seed = 1"))
    with pytest.raises(OutputError, match="another config"):
        plan_batch([entry], out, resume=True)


class Recording(Executor):
    """An executor that runs nothing: it records the jobs it was given."""

    seen: list = []

    def __init__(self, workers=None, address=None):
        self.workers, self.address = workers or 3, address

    def run(self, jobs):
        for job in reversed(jobs):  # any order
            Recording.seen.append((job.name, job.config.out, self.address))
            yield JobResult(job.index, job.name, "failed", error="recorded, not run")


def test_hook_register_executors_adds_an_executor_the_batch_uses(tmp_path):
    class Plugin:
        @hookimpl
        def register_executors(self, register):
            register("recording", Recording, description="records jobs")

    get_plugin_manager().register(Plugin(), name="recording-plugin")
    assert {"local", "ray", "recording"} <= set(get_registry().names("executors"))
    path = manifest(tmp_path, HEAD + '[[video]]\ninput = "world:circle:6"\n'
                    '[[video]]\ninput = "world:spin:6"\n')
    Recording.seen = []
    summary = run_batch(path, tmp_path / "out", executor="recording", address="tcp://h:1",
                        progress=False)
    assert Recording.seen == [("world-spin-6", str(tmp_path / "out" / "world-spin-6"), "tcp://h:1"),
                              ("world-circle-6", str(tmp_path / "out" / "world-circle-6"),
                               "tcp://h:1")]
    doc = json.loads((tmp_path / "out" / "batch.json").read_text())
    assert [v["name"] for v in doc["videos"]] == ["world-circle-6", "world-spin-6"]
    assert doc["counts"]["failed"] == 2 and doc["workers"] == 3 and len(summary.failed) == 2


def test_executor_options_are_checked_in_one_line():
    from dynode_core.batch import create_executor

    with pytest.raises(InputError, match="--address joins a cluster"):
        create_executor("local", address="auto")
    with pytest.raises(DynodeError, match="valid names: local, ray"):
        create_executor("slurm")


def test_a_missing_ray_names_the_extra(monkeypatch):
    import sys

    from dynode_core.batch import create_executor

    monkeypatch.setitem(sys.modules, "ray", None)  # as if the extra were not installed
    with pytest.raises(DynodeError, match=r'pip install -e "\.\[ray\]"'):
        create_executor("ray", workers=2)


def test_the_worker_loads_each_generator_once_and_never_touches_the_registry():
    from dynode_core import RunConfig

    registry = get_registry()
    before = registry.get("generators", "shapes64")
    worker = BatchWorker(threads=None)
    config = RunConfig(device="cpu")
    first = worker.generator(config)
    assert worker.generator(RunConfig(device="cpu", demo_frames=5)) is first  # loaded once
    assert registry.get("generators", "shapes64") is before  # nothing replaced
    assert registry.create("generators", "shapes64", device="cpu") is not first
    worker.close()
