"""Install hints for optional extras: the distribution's own name, a command that works
from a source checkout, and shown literally by ``dynode list`` when the extra is missing.

A missing extra is made really missing: a ``sitecustomize`` in the child's path sets
``sys.modules[name] = None`` for dlib, OpenCV and Ray, which is how Python itself marks a
module that must not import (``import dlib`` then raises ImportError).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib

import pytest

from conftest import REPO, run_dynode

FACES_HINT = 'pip install -e ".[faces]" in the dynode source checkout'
RAY_HINT = 'pip install -e ".[ray]" in the dynode source checkout'


def _without(tmp_path, modules: list[str], *args: str) -> subprocess.CompletedProcess:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import sys\n" + "".join(f"sys.modules[{m!r}] = None\n" for m in modules))
    env = {k: v for k, v in os.environ.items() if not k.startswith("DYNODE_")}
    env["PYTHONPATH"] = os.pathsep.join([str(site), *filter(None, [env.get("PYTHONPATH")])])
    env["COLUMNS"] = "400"  # one table row per line
    return subprocess.run([sys.executable, "-m", "dynode_core.cli", *args], capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=300)


def test_the_distribution_has_its_own_name_and_the_plugin_example_depends_on_it():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    example = tomllib.loads(
        (REPO / "examples/dynode-plugin-example/pyproject.toml").read_text())["project"]
    assert project["name"] == "dynode-gan"
    assert "dynode-gan" in example["dependencies"]
    assert project["scripts"]["dynode"] == "dynode_core.cli:main"


def test_dynode_list_prints_a_missing_extras_hint_verbatim(tmp_path):
    proc = _without(tmp_path, ["dlib", "cv2", "ray"], "list")
    assert proc.returncode == 0, proc.stderr
    rows = {cells[2]: cells[-2] for cells in (  # name -> description (the last column)
        [cell.strip() for cell in line.split("│")] for line in proc.stdout.splitlines())
        if len(cells) >= 6}
    assert rows["face"].endswith(f"(needs the faces extra: {FACES_HINT})")
    assert rows["ray"].endswith(f"needs the ray extra: {RAY_HINT}")


def test_a_run_that_needs_the_missing_extra_names_it_in_one_line(tmp_path):
    made = run_dynode("world", "video", "--motion", "circle", "--frames", "4", "--out",
                      str(tmp_path / "clip.mp4"))
    assert made.returncode == 0, made.stderr
    proc = _without(tmp_path, ["dlib"], "align", "clip.mp4", "--out", "aligned")
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1].endswith(
        'pip install -e ".[faces]" (in the dynode source checkout)'), proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "aligned").exists()


@pytest.mark.parametrize("path", ["README.md", "docs/real-video.md", "docs/batch.md",
                                  "docs/plugins.md"])
def test_docs_never_hint_at_another_projects_distribution(path):
    text = (REPO / path).read_text()
    assert "dynode[" not in text and "install dynode " not in text
