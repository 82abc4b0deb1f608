"""--threads and --precision: honoured, recorded, and bf16 renders that agree with fp32."""

import json

import pytest
import torch

from conftest import run_dynode
from dynode_core import InputError, RunConfig, run_pipeline
from dynode_core.app import apply_precision, bf16_unsupported, check_precision, set_threads

NO_BF16 = bf16_unsupported("cpu")
needs_bf16 = pytest.mark.skipif(NO_BF16 is not None, reason=f"no bf16 here: {NO_BF16}")
SMALL = dict(demo_frames=6, inversion_steps=2, dynamics="linear", interpolate=2,
             batch_size=4, device="cpu")


def psnr(a, b) -> torch.Tensor:
    """Per image, for images in [-1, 1] (peak-to-peak 2)."""
    return 10 * torch.log10(4 / (a - b).square().mean(dim=(1, 2, 3)))


@pytest.fixture(scope="module")
def bundled():
    from dynode_core import get_registry

    return get_registry().create("generators", "shapes64", device="cpu").eval()


@needs_bf16
def test_bf16_renders_of_the_bundled_model_agree_with_fp32(bundled):
    fast = apply_precision(bundled, "bf16", "cpu", copy=True)
    assert next(bundled.parameters()).dtype == torch.float32  # the copy changed, not it
    z = torch.randn(16, bundled.latent_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        w = bundled.mapping(z)
        want, got = bundled.synthesize(w), fast.synthesize(w)
        w_fast = fast.mapping(z)
    assert got.dtype == torch.float32 and w_fast.dtype == torch.float32
    assert psnr(want, got).min() >= 35.0
    assert psnr(want, fast.synthesize(w_fast).detach()).min() >= 30.0  # mapping in bf16 too


@needs_bf16
def test_bf16_generator_passes_gradients_to_float32_codes(bundled):
    fast = apply_precision(bundled, "bf16", "cpu", copy=True)
    w = bundled.mean_latent().expand(2, bundled.num_ws, -1).clone().requires_grad_(True)
    fast.synthesize(w).square().mean().backward()
    assert w.grad.dtype == torch.float32 and w.grad.abs().sum() > 0


@needs_bf16
def test_a_bf16_run_reconstructs_as_well_as_fp32(tmp_path):
    runs = {p: run_pipeline(RunConfig(out=str(tmp_path / p), precision=p, threads=1, **SMALL),
                            progress=False).metrics for p in ("fp32", "bf16")}
    assert runs["bf16"]["precision"] == "bf16"
    assert abs(runs["bf16"]["reconstruction_psnr"] - runs["fp32"]["reconstruction_psnr"]) <= 0.3


def test_bf16_is_refused_in_one_line_where_the_cpu_lacks_it(monkeypatch, tmp_path):
    import dynode_core.compute as compute

    monkeypatch.setattr(compute, "cpu_flags", lambda: frozenset({"avx2", "avx512f"}))
    with pytest.raises(InputError, match="bf16 is not available: this CPU has no native bf16"):
        check_precision("bf16", "cpu")
    assert check_precision("fp32", "cpu") == "fp32"
    with pytest.raises(InputError, match="bf16 is not available"):
        run_pipeline(RunConfig(out=str(tmp_path / "run"), precision="bf16", **SMALL),
                     progress=False)
    assert not (tmp_path / "run").exists()  # refused before any work


@needs_bf16
def test_a_generator_that_does_not_declare_bf16_is_refused(bundled):
    from dynode_stylegan2.model import StyleGAN2Generator

    class Fp32Only(StyleGAN2Generator):
        precisions = ("fp32",)

    with pytest.raises(InputError, match="does not run in bf16"):
        apply_precision(Fp32Only(8, style_dim=4, n_mlp=1, channels={4: 2, 8: 2}), "bf16")


def test_unknown_precision_is_one_line():
    with pytest.raises(InputError, match="--precision must be one of fp32, bf16"):
        RunConfig(precision="fp16")


def test_threads_are_honoured_and_recorded_in_metrics(tmp_path):
    result = run_pipeline(RunConfig(out=str(tmp_path / "run"), threads=1, **SMALL),
                          progress=False)
    assert torch.get_num_threads() == 1
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["threads"] == result.metrics["threads"] == 1
    assert saved["precision"] == "fp32"
    assert "threads = 1" in (tmp_path / "run" / "config.toml").read_text()


def test_dynode_threads_sets_the_count_and_a_bad_value_is_one_line(monkeypatch):
    torch.set_num_threads(2)
    monkeypatch.setenv("DYNODE_THREADS", "1")
    assert set_threads() == 1 and torch.get_num_threads() == 1
    assert set_threads(2) == 2  # the flag wins over the environment
    monkeypatch.setenv("DYNODE_THREADS", "many")
    with pytest.raises(InputError, match="DYNODE_THREADS must be an integer"):
        set_threads()
    with pytest.raises(InputError, match="setting threads must be an integer between 1"):
        RunConfig(threads=0)


def test_threads_flag_on_the_cli(tmp_path):
    done = run_dynode("generate", "--generator", "shapes64", "-n", "2", "--threads", "1",
                      "--out", str(tmp_path / "g.png"))
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "g.json").read_text())["threads"] == 1
    bad = run_dynode("run", "--threads", "0", "--out", str(tmp_path / "run"))
    assert bad.returncode == 2 and "--threads" in bad.stderr
    env = run_dynode("run", "--out", str(tmp_path / "run"), env={"DYNODE_THREADS": "x"})
    assert env.returncode == 2 and env.stderr.strip().splitlines()[-1].startswith("Error: DYNODE")
