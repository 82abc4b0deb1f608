"""scripts/train_shapes_gan.py: a tiny run trains, logs, samples, and resumes bit-exactly."""

from __future__ import annotations

import json

import pytest
import torch

from conftest import load_script

TINY = ["--channels", "16,16,8,8,8", "--style-dim", "16", "--n-mlp", "2", "--batch", "4",
        "--log-every", "2", "--sample-every", "3", "--ckpt-every", "2", "--keep", "1",
        "--pl-weight", "2"]


@pytest.fixture(scope="module")
def train():
    return load_script("train_shapes_gan")


def test_tiny_run_and_bit_exact_resume(train, tmp_path):
    train.main(["--out", str(tmp_path / "a"), "--steps", "4", *TINY])
    train.main(["--out", str(tmp_path / "b"), "--steps", "2", *TINY])
    with pytest.raises(SystemExit, match="--resume"):
        train.main(["--out", str(tmp_path / "b"), "--steps", "4", *TINY])
    train.main(["--out", str(tmp_path / "b"), "--steps", "4", "--resume", *TINY])
    train.main(["--out", str(tmp_path / "c"), "--steps", "2", *TINY])
    train.main(["--out", str(tmp_path / "c"), "--steps", "4", "--resume", "--lr", "0.001",
                "--recon", "5", "--recon-target", "bounds", "--recon-hold", "x,hue",
                "--channels", "8,8,8,8,8",
                *TINY[2:]])  # the architecture stays
    a_ckpts = sorted((tmp_path / "a" / "checkpoints").glob("*.pt"))
    assert [p.name for p in a_ckpts] == ["step-0000004.pt"]  # --keep 1
    a = torch.load(a_ckpts[-1], weights_only=True)
    b = torch.load(tmp_path / "b" / "checkpoints" / "step-0000004.pt", weights_only=True)
    assert a["format"] == "dynode.shapes-gan-train/1" and a["step"] == 4
    for key in ("g", "d", "g_ema"):
        for name, value in a[key].items():
            assert torch.equal(value, b[key][name]), f"{key}.{name} differs after resume"
    rows = [json.loads(line) for line in (tmp_path / "a" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [2, 4]
    assert all(torch.isfinite(torch.tensor([r["d_loss"], r["g_loss"]])).all() for r in rows)
    assert "r1" in rows[0] and "path_length" in rows[0]
    samples = tmp_path / "a" / "samples"
    assert (samples / "reals.png").exists() and (samples / "step-0000003.png").exists()
    assert a["g_ema"]["latent_avg"].abs().sum() > 0  # estimated at save time
    c = torch.load(tmp_path / "c" / "checkpoints" / "step-0000004.pt", weights_only=True)
    assert c["config"]["lr"] == 0.001 and c["config"]["channels"] == "16,16,8,8,8"
    assert a["config"]["recon"] == 0 and c["config"]["recon"] == 5
    assert a["config"]["recon_target"] == "render" and c["config"]["recon_target"] == "bounds"
    assert a["config"]["recon_hold"] == "" and c["config"]["recon_hold"] == "x,hue"
    c_rows = [json.loads(line) for line in (tmp_path / "c" / "log.jsonl").read_text().splitlines()]
    assert "recon_l1" not in c_rows[0] and 0 < c_rows[-1]["recon_l1"] < 2  # on after the resume
    assert c["d_opt"]["param_groups"][0]["lr"] == pytest.approx(0.001 * 16 / 17)


def test_supervised_warm_up_leaves_the_discriminator_alone(train, tmp_path):
    train.main(["--out", str(tmp_path), "--steps", "2", "--adversarial", "0", "--recon", "1",
                "--mapping-lr", "10", *TINY])
    state = torch.load(tmp_path / "checkpoints" / "step-0000002.pt", weights_only=True)
    torch.manual_seed(state["config"]["seed"])
    g0, d0 = train.build(state["config"], "cpu")[:2]
    assert all(torch.equal(v, state["d"][k]) for k, v in d0.state_dict().items())
    assert not all(torch.equal(v, state["g"][k]) for k, v in g0.state_dict().items())
    lrs = [group["lr"] for group in state["g_opt"]["param_groups"]]
    assert lrs[0] == pytest.approx(10 * lrs[1])  # the mapping's group
    rows = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert "d_loss" not in rows[-1] and rows[-1]["recon_l1"] > 0


def test_unknown_held_factor_is_a_usage_error(train, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        train.main(["--out", str(tmp_path), "--recon-hold", "x,colour"])
    assert stop.value.code == 2 and "unknown factor(s) to hold: colour" in capsys.readouterr().err


def test_resume_with_other_discriminator_widths_starts_a_new_one(train, tmp_path):
    train.main(["--out", str(tmp_path), "--steps", "2", *TINY])
    train.main(["--out", str(tmp_path), "--steps", "3", "--resume", *TINY,
                "--d-channels", "8,8,8,16,32", "--ckpt-every", "1", "--keep", "3"])
    before = torch.load(tmp_path / "checkpoints" / "step-0000002.pt", weights_only=True)
    after = torch.load(tmp_path / "checkpoints" / "step-0000003.pt", weights_only=True)
    assert after["config"]["d_channels"] == "8,8,8,16,32"
    assert after["d"]["convs.0.0.weight"].shape != before["d"]["convs.0.0.weight"].shape
    assert after["g_opt"]["state"][0]["step"] == before["g_opt"]["state"][0]["step"] + 1  # G carried on
    assert after["d_opt"]["state"][0]["step"] == 1  # a fresh Adam: one D step since the resume
