"""The bundled shapes models: shapes64 generator, factor regressor, shapes64-e4e encoder,
their files and training scripts."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from dynode_core.errors import DynodeError, InputError
from dynode_core.plugins import get_registry
from dynode_shapes import models
from dynode_shapes.factor_errors import circular_difference, factor_errors
from dynode_shapes.regressor import (FORMAT, WEIGHTS, FactorRegressor, RegressorConfig,
                                     predict_factors, read_regressor, save_regressor)
from dynode_shapes.world import Factors, render, sample_factors, to_uint8

from conftest import load_script

TINY = RegressorConfig(widths=(4, 8, 8, 8), crop_widths=(4, 8, 8, 8), crop=16, head=4, hidden=8)


def _renders(n: int, seed: int):
    f = sample_factors(n, generator=torch.Generator().manual_seed(seed))
    return f, render(f) * 2 - 1


# ------------------------------------------------------------------ generator


def test_shapes64_loads_by_name_and_renders():
    g = get_registry().create("generators", "shapes64")
    assert g.name == "shapes64"
    assert (g.resolution, g.num_ws) == (64, 10)
    with torch.no_grad():
        images = g.synthesize(g.mapping(torch.randn(2, g.latent_dim)))
    assert images.shape == (2, 3, 64, 64) and torch.isfinite(images).all()
    card = json.loads(models.GENERATOR_WEIGHTS.with_suffix(".json").read_text())
    assert card["format"] == "dynode.stylegan2/1" and card["training"]["step"] > 0
    assert card["training"]["kimg"] == pytest.approx(
        card["training"]["step"] * card["training"]["config"]["batch"] / 1000)


def test_shapes64_without_bundled_weights_says_how_to_export(monkeypatch, tmp_path):
    monkeypatch.setattr(models, "GENERATOR_WEIGHTS", tmp_path / "absent.safetensors")
    with pytest.raises(DynodeError, match="export_shapes64.py"):
        models.load_shapes64()


def _training_checkpoint(path: Path, step: int = 40) -> torch.nn.Module:
    from dynode_stylegan2.model import StyleGAN2Generator

    torch.manual_seed(0)
    g = StyleGAN2Generator(8, 16, 2, channels={4: 8, 8: 8})
    g.estimate_mean_latent(64)
    fmt = load_script("shapes_checkpoints").TRAIN_FORMAT
    torch.save({"format": fmt, "step": step, "config": {"batch": 4, "lr": 0.002},
                "g_ema": g.state_dict(), "g_ema_config": g.config, "g": {}, "d": {}}, path)
    return g.eval()


def test_export_round_trips_a_training_checkpoint(tmp_path):
    g = _training_checkpoint(tmp_path / "step-0000040.pt")
    export = load_script("export_shapes64")
    out = tmp_path / "w" / "g.safetensors"
    export.main(["--checkpoint", str(tmp_path / "step-0000040.pt"), "--out", str(out),
                 "--note", "partly trained"])
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["training"]["step"] == 40 and card["training"]["kimg"] == pytest.approx(0.16)
    assert card["note"] == "partly trained" and card["format"] == "dynode.stylegan2/1"
    w = torch.randn(2, 16)
    with torch.no_grad():
        want = g.synthesize(w)
        for source in (out, tmp_path / "step-0000040.pt"):
            loaded = get_registry().create("generators", "shapes64", checkpoint=str(source))
            assert loaded.name == "shapes64"
            torch.testing.assert_close(loaded.synthesize(w), want)
            torch.testing.assert_close(loaded.mean_latent(), g.mean_latent())


def test_export_refuses_other_files(tmp_path):
    torch.save({"g_ema": {}}, tmp_path / "other.pt")
    with pytest.raises(InputError, match="not a dynode.shapes-gan-train/1 checkpoint"):
        load_script("shapes_checkpoints").export_generator(tmp_path / "other.pt",
                                                            tmp_path / "g.safetensors")


# ------------------------------------------------------------------ regressor


def test_bundled_regressor_reads_fresh_renders():
    f, images = _renders(96, seed=123_456)
    reading = predict_factors(images)
    errors = factor_errors(reading, f)
    dist = torch.hypot(reading.x - f.x, reading.y - f.y) * 64
    assert errors["position_rms_px"] < 1.0 and float(dist.quantile(0.9)) < 1.0, errors
    assert errors["shape_accuracy"] >= 0.9 and errors["size_rms_px"] < 1.0, errors
    assert errors["hue_rms_deg"] < 10 and errors["bg_hue_rms_deg"] < 10, errors
    card = json.loads(WEIGHTS.with_suffix(".json").read_text())
    assert card["format"] == FORMAT and card["heldout"]["position_rms_px"] <= 0.5


def test_reading_wraps_rotation_by_symmetry_and_renders_back():
    f = Factors.make(shape=[1, 2, 0], x=0.5, y=0.5, size=0.15,
                     rotation=[0.3 + math.pi / 2, 0.2 + 2 * math.pi / 3, 1.0], hue=0.3, bg_hue=0.7)
    reading = predict_factors(render(f) * 2 - 1)
    assert reading.shape.tolist() == [1, 2, 0]
    assert (reading.rotation[:2] - torch.tensor([0.3, 0.2])).abs().max() < 0.05  # radians
    assert reading.rotation[2].isnan() and reading.phase[2].isnan()
    again = render(reading.factors())
    assert (again - render(f)).abs().mean() < 0.02


def test_factor_errors_wrap_periodic_factors():
    from dynode_shapes.regressor import Reading

    truth = Factors.make(shape=[1, 2], x=0.5, y=0.5, size=0.1, rotation=[0.01, 0.02],
                         hue=[0.995, 0.3], bg_hue=[0.0, 0.5])
    n = torch.ones(2)
    reading = Reading(shape=truth.shape, shape_probs=torch.eye(3)[truth.shape], x=truth.x + 1 / 64,
                      y=truth.y, size=truth.size, rotation=torch.tensor([math.pi / 2 - 0.01, 0.02]),
                      phase=n, hue=torch.tensor([0.005, 0.3]), bg_hue=truth.bg_hue)
    errors = factor_errors(reading, truth)
    assert errors["x_rms_px"] == pytest.approx(1.0, rel=1e-4) and errors["y_rms_px"] == 0
    assert errors["rotation_rms_deg"] == pytest.approx(math.degrees(0.02) / math.sqrt(2), rel=1e-3)
    assert errors["hue_rms_deg"] == pytest.approx(3.6 / math.sqrt(2), rel=1e-3)
    assert errors["shape_accuracy"] == 1.0
    assert circular_difference(torch.tensor(0.9), torch.tensor(0.1), 1.0) == pytest.approx(-0.2)


def test_regressor_file_round_trip_and_refusals(tmp_path):
    torch.manual_seed(0)
    model = FactorRegressor(TINY).eval()
    path = save_regressor(model, tmp_path / "r.safetensors", note="tiny")
    loaded = read_regressor(path)
    images = _renders(4, seed=1)[1]
    for key, value in model(images).items():
        torch.testing.assert_close(loaded(images)[key], value)
    assert json.loads(path.with_suffix(".json").read_text())["note"] == "tiny"
    from safetensors.torch import save_file

    save_file({"x": torch.zeros(1)}, str(tmp_path / "bad.safetensors"), metadata={"format": "x/1"})
    with pytest.raises(InputError, match="not a factor regressor"):
        read_regressor(tmp_path / "bad.safetensors")
    with pytest.raises(InputError, match="reads"):
        predict_factors(torch.zeros(1, 3, 32, 32), loaded)


def test_world_factors_metric_reports_errors():
    f, images = _renders(8, seed=5)
    report = get_registry().create("metrics", "world-factors", frames=to_uint8((images + 1) / 2),
                                   factors=f)
    assert set(report["factors"]) >= {"x", "y", "size", "shape", "hue", "bg_hue", "rotation"}
    assert report["errors"]["position_rms_px"] < 1.5


def test_regressor_training_script_resumes_and_exports(tmp_path):
    train = load_script("train_regressor")
    common = ["--out", str(tmp_path / "run"), "--batch", "4", "--widths", "4,8,8,8",
              "--eval-n", "8", "--export-eval-n", "8", "--eval-every", "2", "--log-every", "1",
              "--ckpt-every", "1"]
    train.main([*common, "--steps", "2"])
    train.main([*common, "--steps", "3", "--resume", "--export", str(tmp_path / "r.safetensors")])
    rows = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3] and "heldout" in rows[1]
    card = json.loads((tmp_path / "r.json").read_text())
    assert card["training"]["steps"] == 3 and "position_rms_px" in card["heldout"]
    read_regressor(tmp_path / "r.safetensors")
    with pytest.raises(SystemExit, match="--resume"):
        train.main([*common, "--steps", "4"])


# ------------------------------------------------------------------ encoder, inversion


def test_encoder_is_registered_exactly_when_its_weights_exist():
    registry = get_registry()
    present = models.ENCODER_WEIGHTS.is_file()
    assert (("encoders", "shapes64-e4e") in registry) == present
    if present:
        component = registry.get("encoders", "shapes64-e4e")
        assert component.meta["generator"] == "shapes64"
        assert component.create(device="cpu") == models.ENCODER_WEIGHTS  # a file to read
        from dynode_inversion.checkpoint import resolve_encoder

        encoder = resolve_encoder("shapes64-e4e", "cpu")
        assert (encoder.num_ws, encoder.config.style_dim) == (10, 128)


def test_two_frame_world_inversion_with_shapes64():
    from dynode_core.inversion import invert_video

    g = get_registry().create("generators", "shapes64")
    traj = invert_video("world:circle:2", g, steps=2, progress=False)
    assert traj.latents.shape == (2, 10, 128) and np.isfinite(traj.latents.numpy()).all()
    assert traj.meta["generator"] == "shapes64"


def test_encoder_training_script_tiny_run(tmp_path):
    train = load_script("train_encoder")
    common = ["--out", str(tmp_path / "run"), "--batch", "2", "--width", "0.125",
              "--log-every", "1", "--sample-every", "2", "--ckpt-every", "1"]
    train.main([*common, "--steps", "1"])
    train.main([*common, "--steps", "2", "--resume", "--export", str(tmp_path / "e.safetensors")])
    rows = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2] and "psnr_world" in rows[1]
    assert (tmp_path / "run" / "samples" / "step-0000002.png").is_file()
    card = json.loads((tmp_path / "e.json").read_text())
    assert card["format"] == "dynode.encoder/1" and card["generator"] == "shapes64"
    from dynode_inversion.checkpoint import load_encoder

    encoder = load_encoder(tmp_path / "e.safetensors")
    assert encoder(torch.zeros(1, 3, 64, 64)).shape == (1, 10, 128)
