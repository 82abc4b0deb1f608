"""Inversion: e4e/pSp encoders (official layout), optimisation, hybrid, video inversion, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from dynode_core import Inverter
from click.testing import CliRunner

from dynode_core.errors import InputError
from dynode_core.interfaces import FrameBatch
from dynode_core.inversion import invert_video, smooth, to_generator_input, to_rgb8
from dynode_core.testing import check_inverter
from dynode_inversion.checkpoint import (infer_config, load_encoder, save_encoder,
                                         to_checkpoint)
from dynode_inversion.e4e import EncoderInverter
from dynode_inversion.encoder import EncoderConfig, StyleEncoder
from dynode_inversion.hybrid import HybridInverter
from dynode_inversion.optim import OptimInverter

from conftest import fixture_path

TYPES = ("Encoder4Editing", "GradualStyleEncoder")


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR (dB) of images in [-1, 1]."""
    return 10 * torch.log10(4.0 / (a - b).square().flatten(1).mean(1))


def tiny_encoder(encoder_type="Encoder4Editing", *, input_nc=3, seed=0, latent_avg=None):
    """A random 32 px encoder for the fixture generator (8 x 64 W+), batch-norm stats randomised."""
    torch.manual_seed(seed)
    config = EncoderConfig(encoder_type=encoder_type, num_ws=8, style_dim=64, input_size=32,
                           input_nc=input_nc, units=(1, 2, 2, 1), width=0.25)
    encoder = StyleEncoder(config, torch.randn(8, 64) if latent_avg is None else latent_avg)
    with torch.no_grad():
        for name, buf in encoder.named_buffers():
            if name.endswith("running_mean"):
                buf.normal_(0, 0.1)
            elif name.endswith("running_var"):
                buf.uniform_(0.5, 2.0)
    return encoder.eval()


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models run faster on one thread, and this 2-core machine is shared."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def generator():
    from dynode_stylegan2.loader import load_generator

    return load_generator(fixture_path("stylegan2-rosinality", "stylegan2_converted.pt"))


def frame_batches(frames: np.ndarray, batch: int, fps: float = 25.0):
    for start in range(0, len(frames), batch):
        chunk = frames[start:start + batch]
        yield FrameBatch(chunk, np.arange(start, start + len(chunk)) / fps)


def moving_frames(n=10, height=40, width=48) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width] / max(height, width)
    return np.stack([np.stack([128 + 100 * np.sin(6 * xx + i / 3), 255 * yy,
                               128 + 100 * np.cos(5 * yy - i / 4)], -1) for i in range(n)]
                    ).astype(np.uint8)


# --------------------------------------------------------------------------- encoder format
@pytest.mark.parametrize("encoder_type", TYPES)
def test_full_size_encoder_keys_and_shapes_equal_the_official_ones(encoder_type):
    official = json.loads(fixture_path("e4e", "e4e_encoder_keys.json").read_text())[encoder_type]
    with torch.device("meta"):  # IR-SE-50 at 1024 px: 267M numbers, never allocated
        encoder = StyleEncoder(EncoderConfig(encoder_type=encoder_type))
    state = {k[len("encoder."):]: list(v.shape) for k, v in encoder.state_dict().items()
             if k.startswith("encoder.")}
    assert state == official and list(state) == list(official)
    assert sum(int(np.prod(s)) for s in state.values()) == 267_161_076
    inferred = infer_config({k: torch.empty(s, device="meta") for k, s in official.items()},
                            encoder_type)
    assert (inferred.units, inferred.width, inferred.input_size, inferred.num_ws,
            inferred.style_dim, inferred.coarse_ind, inferred.middle_ind) == \
        ((3, 4, 14, 3), 1.0, 256, 18, 512, 3, 7)


@pytest.mark.parametrize("encoder_type", TYPES)
def test_tiny_official_layout_checkpoint_round_trips(tmp_path, encoder_type):
    encoder = tiny_encoder(encoder_type)
    torch.save(to_checkpoint(encoder), tmp_path / "e4e.pt")
    raw = torch.load(tmp_path / "e4e.pt", weights_only=True)
    assert set(raw) == {"state_dict", "latent_avg", "opts"}
    assert raw["opts"]["encoder_type"] == encoder_type
    loaded = load_encoder(tmp_path / "e4e.pt")
    images = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.no_grad():
        expected = encoder(images)
        assert torch.equal(loaded(images), expected)
        save_encoder(loaded, tmp_path / "enc.safetensors")
        assert json.loads((tmp_path / "enc.json").read_text())["format"] == "dynode.encoder/1"
        assert torch.equal(load_encoder(tmp_path / "enc.safetensors")(images), expected)
        # same weights, the other forward: opts['encoder_type'] decides
        other = dict(raw, opts={**raw["opts"], "encoder_type": next(t for t in TYPES
                                                                    if t != encoder_type)})
        torch.save(other, tmp_path / "other.pt")
        assert not torch.allclose(load_encoder(tmp_path / "other.pt")(images), expected)


def test_e4e_forward_is_w0_plus_deltas_and_psp_is_independent():
    e4e, psp = tiny_encoder("Encoder4Editing"), tiny_encoder("GradualStyleEncoder")
    images = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        features = psp.encoder.pyramid(psp.prepare(images))
        w0 = psp.encoder.styles[0](features[0]())
        layer5 = psp.encoder.styles[5](features[1]())
        assert torch.allclose(psp(images)[:, 5], layer5 + psp.latent_avg[5], atol=1e-6)
        assert torch.allclose(e4e(images)[:, 0], w0 + e4e.latent_avg[0], atol=1e-6)
        assert torch.allclose(e4e(images)[:, 5], w0 + layer5 + e4e.latent_avg[5], atol=1e-6)


def test_bad_encoder_files_are_refused_clearly(tmp_path):
    torch.save({"state_dict": {"decoder.x": torch.zeros(1)}, "opts": {}}, tmp_path / "dec.pt")
    with pytest.raises(InputError, match="no encoder"):
        load_encoder(tmp_path / "dec.pt")
    ckpt = to_checkpoint(tiny_encoder(), opts={"encoder_type": "BackboneEncoder"})
    torch.save(ckpt, tmp_path / "restyle.pt")
    with pytest.raises(InputError, match="not supported.*GradualStyleEncoder"):
        load_encoder(tmp_path / "restyle.pt")
    with pytest.raises(InputError, match="neither a file nor a registered encoder"):
        EncoderInverter("no-such-encoder")


def test_e4e_checkpoint_offers_its_decoder_to_the_stylegan2_loader(tmp_path, generator):
    from dynode_stylegan2.loader import load_generator

    raw = torch.load(fixture_path("stylegan2-rosinality", "stylegan2_converted.pt"),
                     weights_only=True)
    torch.save(to_checkpoint(tiny_encoder(), decoder=raw["g_ema"]), tmp_path / "e4e.pt")
    decoded = load_generator(tmp_path / "e4e.pt")
    w = generator.mean_latent()[None]
    with torch.no_grad():
        assert torch.equal(decoded.synthesize(w), generator.synthesize(w))


# --------------------------------------------------------------------------- inverters
def test_restyle_and_residual_iterations(generator):
    frames = torch.rand(2, 3, 32, 32) * 2 - 1
    restyle = tiny_encoder(input_nc=6)
    codes = EncoderInverter(restyle, iterations=3).invert(frames, generator)
    assert codes.shape == (2, 8, 64) and torch.isfinite(codes).all()
    with torch.no_grad():  # pass 1: E(x, image of latent_avg) + latent_avg
        avg = restyle.latent_avg.expand(2, -1, -1)
        first = restyle(frames, generator.synthesize(avg))
        pair = torch.cat([frames, generator.synthesize(avg)], 1)
        assert torch.allclose(first, restyle.encoder(pair) + avg)
    assert torch.allclose(EncoderInverter(restyle).invert(frames, generator), first)
    encoder = tiny_encoder()
    one = EncoderInverter(encoder).invert(frames, generator)
    with torch.no_grad():
        assert torch.equal(one, encoder(frames))
        two = EncoderInverter(encoder, iterations=2).invert(frames, generator)
        expected = one + one - encoder(generator.synthesize(one))
    assert torch.allclose(two, expected, atol=1e-5)


def test_encoder_for_another_generator_is_refused(generator):
    encoder = StyleEncoder(EncoderConfig(num_ws=10, style_dim=64, input_size=32,
                                         units=(1, 1, 1, 1), width=0.25))
    with pytest.raises(InputError, match="10 x 64.*8 x 64"):
        EncoderInverter(encoder).invert(torch.zeros(1, 3, 32, 32), generator)


def test_optimisation_improves_and_recovers_a_generated_image(generator):
    # from the mean latent: the conformance check (shapes, finite, beats the mean, deterministic)
    check_inverter(OptimInverter(steps=8, lr=0.05), generator, batch=2)
    # from a nearby start (as an encoder gives): the code's image comes back at >= 30 dB
    z = torch.randn(2, 64, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        w = generator.mapping(z, truncation=0.7)[:, None].expand(-1, 8, -1)
        target = generator.synthesize(w)
    start = w + 0.1 * torch.randn(w.shape, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        before = psnr(generator.synthesize(start), target)
    codes = OptimInverter(steps=40, lr=0.02, ssim_weight=0.0).invert(target, generator,
                                                                     start=start)
    with torch.no_grad():
        after = psnr(generator.synthesize(codes), target)
    assert (after > before + 5).all() and (after >= 30).all(), (before, after)


def test_hybrid_starts_from_the_encoder_and_refines(generator):
    encoder = tiny_encoder(latent_avg=generator.mean_latent()[None].expand(8, -1))
    frames = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(5)) * 2 - 1
    start = EncoderInverter(encoder).invert(frames, generator)
    refined = HybridInverter(encoder, steps=6, lr=0.01).invert(frames, generator)
    with torch.no_grad():
        err = [(generator.synthesize(c) - frames).square().mean() for c in (start, refined)]
    assert err[1] < err[0]
    in_w = OptimInverter(steps=2, space="w").invert(frames, generator, start=start)
    assert torch.equal(in_w, in_w[:, :1].expand_as(in_w))  # one code on every layer


def test_default_inverter_choice_and_options():
    from dynode_core.inversion.select import build_inverter
    from dynode_core.plugins import get_registry

    assert {"e4e", "optim", "hybrid"} <= set(get_registry().names("inverters"))
    assert isinstance(build_inverter(None, steps=3), OptimInverter)
    assert isinstance(build_inverter(None, encoder=tiny_encoder(), steps=3), HybridInverter)
    with pytest.raises(InputError, match="does not take the setting 'steps'"):
        build_inverter("e4e", encoder=tiny_encoder(), steps=3)
    with pytest.raises(InputError, match="needs an encoder"):
        build_inverter("hybrid")


# --------------------------------------------------------------------------- frames
def test_frames_are_converted_or_refused_clearly():
    gray = np.full((2, 8, 8), 100, np.uint8)
    assert (to_rgb8(gray) == 100).all() and to_rgb8(gray).shape == (2, 8, 8, 3)
    assert (to_rgb8(gray[..., None]) == 100).all()
    rgba = np.zeros((1, 4, 4, 4), np.uint8)
    rgba[..., :3], rgba[0, :2, :, 3], rgba[0, 2:, :, 3] = 200, 0, 255
    out = to_rgb8(rgba)
    assert (out[0, :2] == 0).all() and (out[0, 2:] == 200).all()  # over black
    la = np.stack([np.full((1, 4, 4), 50, np.uint8), np.full((1, 4, 4), 255, np.uint8)], -1)
    assert (to_rgb8(la) == 50).all()
    deep = np.full((1, 4, 4, 3), 65535, np.uint16)
    deep[0, 0, 0] = 257 * 10
    out = to_rgb8(deep)
    assert out.dtype == np.uint8 and out[0, 0, 0, 0] == 10 and out[0, 1, 1, 0] == 255
    with pytest.raises(InputError, match="uint8 or uint16"):
        to_rgb8(np.zeros((1, 4, 4, 3), np.float32))
    with pytest.raises(InputError, match="channels"):
        to_rgb8(np.zeros((1, 4, 4, 5), np.uint8))
    wide = np.zeros((1, 20, 40, 3), np.uint8)
    wide[:, :, 10:30] = 255  # the centred square is white, the sides black
    center = to_generator_input(wide, 16, "center")
    whole = to_generator_input(wide, 16, "none")
    assert center.shape == whole.shape == (1, 3, 16, 16)
    assert center.min() > 0.99 and whole[..., 0].max() < -0.99
    with pytest.raises(InputError, match="crop mode"):
        to_generator_input(wide, 16, "zoom")


def test_smoothing_is_off_by_default_and_keeps_constants():
    codes = torch.randn(20, 2, 3)
    assert torch.equal(smooth(codes, 0.0), codes)
    const = torch.ones(7, 2, 3)
    assert torch.allclose(smooth(const, 2.0), const)
    assert smooth(codes, 2.0).diff(dim=0).abs().mean() < codes.diff(dim=0).abs().mean()


# --------------------------------------------------------------------------- video inversion
def test_interrupted_inversion_resumes_to_the_same_codes(tmp_path, generator):
    frames = moving_frames(10)
    inverter = HybridInverter(tiny_encoder(latent_avg=generator.mean_latent()[None]), steps=3)
    calls = []

    class Interrupt(Exception):
        pass

    def stop_after_first_batch(advance=0, total=None, description=None):
        if advance:
            raise Interrupt

    with pytest.raises(Interrupt):
        invert_video(frame_batches(frames, 4), generator, inverter, batch_size=4,
                     cache_dir=tmp_path / "cache", progress=stop_after_first_batch)
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [
        "batch_000000.safetensors", "manifest.json"]

    class Counting(Inverter):  # an inverter subclasses the contract it implements
        @property
        def config(self):
            return inverter.config

        def invert(self, x, g, *, progress):
            calls.append(len(x))
            return inverter.invert(x, g, progress=progress)

    resumed = invert_video(frame_batches(frames, 4), generator, Counting(), batch_size=4,
                           cache_dir=tmp_path / "cache", progress=False)
    whole = invert_video(frame_batches(frames, 4), generator, inverter, batch_size=4,
                         progress=False)
    assert calls == [4, 2]  # batch 0 came from the cache
    assert torch.equal(resumed.latents, whole.latents) and len(whole) == 10
    assert torch.allclose(whole.times, torch.arange(10, dtype=torch.float64) / 25)
    assert whole.space == "w+" and whole.meta["fps"] == 25.0
    other = HybridInverter(inverter.start.encoder, steps=4)
    with pytest.raises(InputError, match=r"other settings: inverter\.optim\.steps \(3 -> 4\)"):
        invert_video(frame_batches(frames, 4), generator, other, batch_size=4,
                     cache_dir=tmp_path / "cache", progress=False)
    fresh = invert_video(frame_batches(frames, 4), generator, inverter, batch_size=4,
                         cache_dir=tmp_path / "cache", resume=False, progress=False)
    assert torch.equal(fresh.latents, whole.latents)


def test_video_file_inversion_and_cli(tmp_path, generator):
    from dynode_core.cli import cli
    from dynode_core.trajectory import LatentTrajectory
    from dynode_core.video import write_video

    write_video(tmp_path / "clip.mp4", moving_frames(6, 48, 64), fps=12)
    raw = torch.load(fixture_path("stylegan2-rosinality", "stylegan2_converted.pt"),
                     weights_only=True)
    encoder = tiny_encoder(latent_avg=raw["latent_avg"][None])
    torch.save(to_checkpoint(encoder, decoder=raw["g_ema"]), tmp_path / "e4e.pt")
    traj = invert_video(tmp_path / "clip.mp4", generator, EncoderInverter(encoder),
                        batch_size=4, progress=False)
    assert traj.latents.shape == (6, 8, 64) and traj.meta["fps"] == 12.0
    assert torch.allclose(traj.times, torch.arange(6, dtype=torch.float64) / 12)

    args = ["invert", str(tmp_path / "clip.mp4"), "--generator", "stylegan2", "--encoder",
            str(tmp_path / "e4e.pt"), "--inverter", "e4e", "--batch-size", "4", "--quiet",
            "--out", str(tmp_path / "lat.safetensors")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    saved = LatentTrajectory.load(tmp_path / "lat.safetensors")
    assert torch.allclose(saved.latents, traj.latents, atol=1e-6)
    assert saved.meta["generator"] == "stylegan2" and saved.meta["inverter"] == "e4e"
    assert not (tmp_path / "lat.safetensors.cache").exists()
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 1 and "--overwrite" in again.output
    steps = CliRunner().invoke(cli, args + ["--overwrite", "--steps", "3"])
    assert steps.exit_code == 2 and "does not take the setting 'steps'" in steps.output


def test_optim_by_name_ignores_the_generators_default_encoder():
    """shapes64 has a registered encoder: asking for optim must not hand it over."""
    from dynode_core.inversion.select import build_inverter

    inverter = build_inverter("optim", generator_name="shapes64", steps=2)
    assert type(inverter).__name__ == "OptimInverter"
    assert type(build_inverter(None, generator_name="shapes64")).__name__ == "HybridInverter"
