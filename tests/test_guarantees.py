"""docs/guarantees.md: what no other test file checks."""

from __future__ import annotations

from conftest import run_dynode


def test_a_run_leaves_its_input_untouched(tmp_path):
    clip = tmp_path / "clip.mp4"
    assert run_dynode("world", "video", "--frames", "4", "--out", str(clip)).returncode == 0
    before = (clip.read_bytes(), clip.stat().st_mtime_ns)
    proc = run_dynode("run", str(clip), "--inversion-steps", "1", "--dynamics", "linear",
                      "--interpolate", "2", "--device", "cpu", "--quiet", "--out",
                      str(tmp_path / "run"), env={"OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr
    assert (clip.read_bytes(), clip.stat().st_mtime_ns) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "run"]
