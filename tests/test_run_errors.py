"""``dynode run`` on bad input: one short line, a non-zero exit, nothing overwritten.

Every test uses the bundled ``shapes64`` generator (no checkpoint, nothing from
``../shared``), so they all run in a fresh clone."""

import numpy as np
import pytest
from PIL import Image

from conftest import run_dynode

# The quickest settings, in case a run gets as far as running.
QUICK = ("--dynamics", "linear", "--inversion-steps", "1", "--interpolate", "2",
         "--device", "cpu", "--quiet")
# ... with the bundled generator (the default, named so the tests say what they use).
FAST = ("--generator", "shapes64", *QUICK, "--max-frames", "4")


def assert_one_line_error(proc, *words):
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    for word in words:
        assert word in lines[0], lines[0]


@pytest.fixture
def truncated_mp4(tmp_path):
    from dynode_core.video import write_video

    frames = np.random.default_rng(0).integers(0, 255, (12, 32, 32, 3), dtype=np.uint8)
    path = write_video(tmp_path / "whole.mp4", frames, fps=10)
    data = path.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 2 // 3])
    return cut


def folder_of(tmp_path, n):
    folder = tmp_path / f"frames{n}"
    folder.mkdir()
    for i in range(n):
        Image.new("RGB", (16, 16), (i * 40, 0, 0)).save(folder / f"f{i}.png")
    return folder


def test_missing_file(tmp_path):
    proc = run_dynode("run", str(tmp_path / "nope.mp4"), *FAST,
                      "--out", str(tmp_path / "run"))
    assert_one_line_error(proc, "nope.mp4", "no such file")


def test_not_a_video(tmp_path):
    fake = tmp_path / "notes.mp4"
    fake.write_text("these are my notes, not a video\n" * 20)
    proc = run_dynode("run", str(fake), *FAST, "--out", str(tmp_path / "r"))
    assert_one_line_error(proc, "notes.mp4")
    assert fake.read_text().startswith("these are my notes")


def test_truncated_mp4(tmp_path, truncated_mp4):
    # No --max-frames: the whole (cut) file is the input.
    proc = run_dynode("run", str(truncated_mp4), "--generator", "shapes64", *QUICK,
                      "--out", str(tmp_path / "r"))
    assert_one_line_error(proc, "cut.mp4")


def test_zero_and_one_frame(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = run_dynode("run", str(empty), *FAST, "--out", str(tmp_path / "a"))
    assert_one_line_error(proc)
    one = folder_of(tmp_path, 1)
    proc = run_dynode("run", str(one), *FAST, "--out", str(tmp_path / "b"))
    assert_one_line_error(proc, "single frame")


def test_unknown_dynamics_exits_2_listing_names(tmp_path):
    proc = run_dynode("run", "world:circle:4", "--dynamics", "odee", "--out", str(tmp_path / "r"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "valid names" in proc.stderr and "linear" in proc.stderr


def test_checkpoint_of_the_wrong_kind(tmp_path):
    import torch

    encoder_only = tmp_path / "e4e_encoder.pt"
    torch.save({"state_dict": {"encoder.input_layer.0.weight": torch.zeros(4, 3, 3, 3)},
                "opts": {"encoder_type": "Encoder4Editing"}}, encoder_only)
    proc = run_dynode("run", "world:circle:4", "--generator", "stylegan2",
                      "--checkpoint", str(encoder_only), *QUICK, "--out", str(tmp_path / "r"))
    assert_one_line_error(proc, "e4e_encoder.pt")


def test_out_folder_that_is_not_a_run_is_left_alone(tmp_path):
    mine = tmp_path / "my-photos"
    mine.mkdir()
    (mine / "holiday.jpg").write_bytes(b"precious")
    proc = run_dynode("run", "world:circle:4", *FAST, "--out", str(mine))
    assert_one_line_error(proc, "not a dynode run folder")
    assert [p.name for p in mine.iterdir()] == ["holiday.jpg"]
    assert (mine / "holiday.jpg").read_bytes() == b"precious"


def test_out_that_cannot_be_created(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    proc = run_dynode("run", "world:circle:4", *FAST,
                      "--out", str(blocker / "run"))
    assert_one_line_error(proc, "a-file")
    assert blocker.read_text() == "x"
