"""Progress a person can read: at 80 columns the stage, count/total, rate and ETA show in
full (the bar goes first when narrow); with stderr not a terminal, plain lines every ~10 s
or 10 %; ``--quiet`` prints nothing and ``--json`` only JSON."""

from __future__ import annotations

import io
import json
import re

import pytest
from rich.console import Console
from rich.text import Text

from dynode_core import progress as progress_module
from dynode_core.progress import PLAIN_SECONDS, Progressor, TaskState, render_lines

from conftest import run_dynode

SMALL = ["world:circle:6", "--inversion-steps", "1", "--dynamics", "linear", "--device", "cpu"]


def live_lines(width: int) -> list[str]:
    """The last frame of a live display of four tasks on a terminal ``width`` wide."""
    buf = io.StringIO()
    console = Console(width=width, force_terminal=True, file=buf)
    with Progressor(console=console) as bar:
        bar.task("read", 64)(64)
        bar.task("invert", 64)(12)
        bar.task("fit ode")(37, total=150, loss=0.01234)
        bar.task("render interpolated", 1000)
    return Text.from_ansi(buf.getvalue()).plain.splitlines()[-4:]


def test_at_80_columns_every_fact_shows_in_full():
    lines = live_lines(80)
    assert all(len(line) <= 80 for line in lines), lines
    assert not any("…" in line for line in lines), lines
    read, invert, fit, render = lines
    assert read.startswith("read ") and " 64/64 " in read and "/s" in read
    assert re.search(r"invert +━+─+ +12/64 +[\d.]+k?/s +eta \d:\d\d", invert), invert
    assert " 37/150 " in fit and "eta " in fit and "loss=0.01234" in fit, fit
    assert render.startswith("render interpolated") and "0/1000" in render
    counts = (" 64/64 ", " 12/64 ", " 37/150 ", " 0/1000 ")
    assert len({line.index(c) + len(c) for line, c in zip(lines, counts)}) == 1  # aligned


def test_narrow_terminals_drop_the_bar_then_the_extras_never_the_facts():
    for width in (60, 40):
        lines = live_lines(width)
        assert all(len(line) <= width for line in lines), lines
        assert not any("━" in line or "─" in line for line in lines), lines
        invert = lines[1]
        assert re.search(r"^invert +12/64 [\d.]+k?/s +eta \d:\d\d$", invert), invert
    assert "loss" not in live_lines(40)[2]


def test_counts_rate_and_eta_are_the_tasks_own():
    task = TaskState("invert", total=100, started=0.0)
    task.completed = 25
    (line,) = render_lines([task], 80, now=10.0)
    assert "25/100" in line and "2.50/s" in line and "eta 0:30" in line and "elapsed 0:10" in line


def test_plain_lines_every_tenth_and_every_ten_seconds(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: now[0])
    buf = io.StringIO()
    console = Console(file=buf, width=200)  # a file: not a terminal
    with Progressor(console=console) as bar:
        step = bar.task("invert", 1000)
        for _ in range(1000):
            now[0] += 0.001
            step(1)
        slow = bar.task("fit ode")  # no total: time decides
        for _ in range(5):
            now[0] += PLAIN_SECONDS / 2
            slow(1, loss=0.5)
    lines = buf.getvalue().splitlines()
    invert = [ln for ln in lines if ln.startswith("invert")]
    assert 10 <= len(invert) <= 12, invert  # start, every 10 %, the end
    assert invert[0].startswith("invert 0/1000") and invert[-1].startswith("invert 1000/1000")
    assert all("/s" in ln for ln in invert)
    fit = [ln for ln in lines if ln.startswith("fit ode")]
    assert len(fit) == 3 and fit[-1].startswith("fit ode 4/?") and "loss=0.5" in fit[-1], fit


def test_a_disabled_progressor_prints_nothing_but_counts(capsys):
    with Progressor(enabled=False) as bar:
        bar.task("read", 4)(4)
        bar.task("invert", 4)(2)
    assert capsys.readouterr() == ("", "")
    assert bar.summary() == "finished read 4/4; stopped in invert 2/4"


def test_plain_progress_lines_in_a_pipe(tmp_path):
    """stderr is a pipe (CI, nohup, a log): every stage says where it is, in plain text."""
    proc = run_dynode("run", *SMALL, "--out", str(tmp_path / "run"))
    assert proc.returncode == 0, proc.stderr
    assert "\x1b[" not in proc.stderr  # no terminal codes in a log
    lines = proc.stderr.splitlines()
    for stage in ("read", "invert", "render reconstruction", "render interpolated"):
        mine = [ln for ln in lines if re.match(rf"{stage} \d+/\d+ ", ln)]
        assert mine, (stage, proc.stderr)
        assert re.match(rf"{stage} 0/\d+ ", mine[0]) and "/s" in mine[-1]
        done, total = re.match(rf"{stage} (\d+)/(\d+) ", mine[-1]).groups()
        assert done == total, mine


@pytest.mark.parametrize("flag", ["--quiet", "--json"])
def test_quiet_is_silent_and_json_prints_only_json(tmp_path, flag):
    proc = run_dynode("run", *SMALL, "--out", str(tmp_path / "run"), flag)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    if flag == "--quiet":
        assert proc.stdout == ""
    else:
        assert json.loads(proc.stdout)["frames"] == 6
