"""The exit-code table of ``dynode`` (printed by ``dynode --help``): 2 for an invalid
invocation refused before any work, 1 for a failure while working, 130 on Ctrl-C,
whose one line says what finished and gives the command that continues."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys

import pytest
from click.testing import CliRunner

from conftest import default_sigint
from dynode_core import InputError, hookimpl
from dynode_core.cli import cli, interrupted_line, resume_command
from dynode_core.plugins import get_plugin_manager

SMALL = ["world:circle:4", "--inversion-steps", "1", "--dynamics", "linear", "--device", "cpu"]


def invoke(*args):
    return CliRunner().invoke(cli, list(args))


def assert_one_line_error(result, code: int, *words) -> None:
    assert result.exit_code == code, (result.exit_code, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    error = [ln for ln in result.output.splitlines() if ln.startswith("Error: ")]
    assert len(error) == 1, result.output
    for word in words:
        assert word in error[0], error[0]


def test_help_prints_the_table():
    result = invoke("--help")
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    for row in ("0 success", "1 a failure while working", "2 an invalid invocation",
                "130 interrupted (Ctrl-C)"):
        assert row in text, result.output


@pytest.mark.parametrize("args, words", [
    (["run", "--bogus"], ["No such option", "--bogus"]),  # an unknown option
    (["run", "--interpolate", "0"], ["--interpolate"]),  # a bad value
    (["run", "--dynamics", "odee"], ["unknown dynamics name 'odee'", "ode"]),  # click type
    (["run", "--align", "fac"], ["'fac'", "face"]),  # an unknown name found by the checks
    (["run", "--propagate", "cde", "--dynamics", "linear"], ["--propagate cde"]),  # a combination
    (["run", "/no/such/clip.mp4"], ["/no/such/clip.mp4"]),  # an input that is not there
    (["run", "--edit", "sefa"], ["sefa"]),  # an edit string without a direction
    (["list", "gadgets"], ["gadgets"]),
    (["nosuchcommand"], ["nosuchcommand"]),
])
def test_invalid_invocations_exit_2_before_any_work(tmp_path, args, words):
    out = tmp_path / "run"
    extra = ["--out", str(out)] if args[0] == "run" else []
    assert_one_line_error(invoke(*args, *extra), 2, *words)
    assert not out.exists()  # refused before anything was created


def test_an_output_that_must_not_be_overwritten_exits_1(tmp_path):
    (tmp_path / "mine.txt").write_text("a user's file")
    assert_one_line_error(invoke("run", *SMALL, "--out", str(tmp_path)), 1,
                          "not a dynode run folder")


def test_bad_input_found_while_working_exits_1(tmp_path):
    class FailsAtFit:
        @hookimpl
        def before_stage(self, stage, data, context):
            if stage == "fit":
                raise InputError("the codes are unusable (raised by a test plugin)")

    get_plugin_manager().register(FailsAtFit(), name="fails-at-fit")
    result = invoke("run", *SMALL, "--quiet", "--out", str(tmp_path / "run"))
    assert_one_line_error(result, 1, "the codes are unusable")


def test_resume_command_keeps_the_arguments_and_quotes_them():
    run = cli.commands["run"]
    argv = ["run", "my clip.mp4", "--out", "runs/a b", "--overwrite", "--edit", "sefa:0:2"]
    assert resume_command(argv, run) == [
        "dynode", "run", "my clip.mp4", "--out", "runs/a b", "--edit", "sefa:0:2", "--resume"]
    assert resume_command([*argv, "--resume"], run).count("--resume") == 1
    line = interrupted_line(argv, run)
    assert line.endswith("continue with: dynode run 'my clip.mp4' --out 'runs/a b' "
                         "--edit sefa:0:2 --resume")
    assert shlex.split(line.split(": ", 1)[1])[2] == "my clip.mp4"
    # batch continues with --resume too; tune has none, so the line runs it again
    assert resume_command(["batch", "m.toml", "--out", "b"], cli.commands["batch"])[-1] == \
        "--resume"
    tune = ["tune", "latents.safetensors", "--frames", "clip.mp4", "--out", "t.safetensors"]
    assert "run again with: dynode tune latents.safetensors" in interrupted_line(
        tune, cli.commands["tune"])


def _dynode(*args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DYNODE_")}
    return [sys.executable, "-m", "dynode_core", *args], env


def test_ctrl_c_mid_run_exits_130_and_the_printed_command_finishes_the_run(tmp_path):
    """SIGINT once the first inversion batch is done (stderr is a pipe, so progress comes
    as plain lines): exit 130, one line naming what finished and the exact command, and
    that command, run as printed, completes the run from where it stopped."""
    out = tmp_path / "run folder"
    command, env = _dynode("run", "world:circle:24", "--inversion-steps", "20",
                           "--dynamics", "linear", "--device", "cpu", "--out", str(out))
    proc = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, env=env, cwd=tmp_path, preexec_fn=default_sigint)
    seen = []
    try:
        for line in proc.stderr:
            seen.append(line)
            if line.startswith("invert 16/24"):  # one batch of 16 frames inverted
                proc.send_signal(signal.SIGINT)
                break
        stderr = "".join(seen) + proc.stderr.read()
        proc.wait(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "Aborted!" not in stderr, stderr
    lines = [ln for ln in stderr.splitlines() if ln.startswith("Interrupted")]
    assert len(lines) == 1, stderr
    assert "invert 16/24" in lines[0], lines[0]
    printed = shlex.split(lines[0].split("continue with: ", 1)[1])
    assert printed[:2] == ["dynode", "run"] and printed[-1] == "--resume"
    assert printed[1:-1] == command[3:]  # the same arguments, in order
    assert not (out / "metrics.json").exists()
    again = subprocess.run([sys.executable, "-m", "dynode_core", *printed[1:]], env=env,
                           cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["frames"] == 24 and (out / "report.html").is_file()


def test_ctrl_c_mid_batch_exits_130_and_the_printed_command_finishes_the_batch(tmp_path):
    """The same for ``dynode batch``: SIGINT once the first video's run folder has work in
    it; the printed command (with --resume) finishes every video."""
    import time

    import tomli_w

    manifest = tmp_path / "m.toml"
    manifest.write_text(tomli_w.dumps({
        "inversion_steps": 20, "dynamics": "linear", "device": "cpu",
        "video": [{"input": "world:circle:24"}, {"input": "world:spin:6"}]}))
    command, env = _dynode("batch", "m.toml", "--out", "out")
    proc = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env=env, cwd=tmp_path, preexec_fn=default_sigint)
    try:
        deadline = time.monotonic() + 120
        first = tmp_path / "out" / "world-circle-24"
        while not (first / "config.toml").is_file() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)  # into the inversion (a sleep only to land mid-run; nothing timed)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    (line,) = [ln for ln in stderr.splitlines() if ln.startswith("Interrupted")]
    assert "stopped in videos 0/2; " in line and "invert" in line, line
    printed = shlex.split(line.split("continue with: ", 1)[1])
    assert printed == ["dynode", "batch", "m.toml", "--out", "out", "--resume"]
    again = subprocess.run([sys.executable, "-m", "dynode_core", *printed[1:]], env=env,
                           cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    videos = json.loads((tmp_path / "out" / "batch.json").read_text())["videos"]
    assert [v["status"] for v in videos] == ["ok", "ok"]
