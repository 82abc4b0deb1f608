"""The `shapes` world: renderer, motions, edits, sampler and the `dynode world` command."""

from __future__ import annotations

import math

import pytest
import torch

from dynode_shapes.motions import EDITS, MOTIONS, frame_times, get_motion, video
from dynode_shapes.world import (SAMPLE_RANGES, SHAPES, SYMMETRY, Factors, latent_factors,
                                 object_mask, render, sample_factors, to_uint8)


def test_render_is_deterministic_and_in_range():
    a = render(sample_factors(48, generator=torch.Generator().manual_seed(3)))
    b = render(sample_factors(48, generator=torch.Generator().manual_seed(3)))
    assert a.shape == (48, 3, 64, 64) and a.dtype == torch.float32
    assert torch.equal(a, b)
    assert 0.0 <= a.min() and a.max() <= 1.0
    # chunking does not change pixels
    f = sample_factors(10, generator=torch.Generator().manual_seed(4))
    assert torch.equal(render(f, batch_size=3), render(f))


@pytest.mark.parametrize("shape", SHAPES)
def test_size_is_the_radius_of_the_equal_area_disk(shape):
    f = Factors.make(shape=shape, x=0.5, y=0.5, size=0.2, rotation=0.3)
    area = object_mask(f).sum().item() / 64 ** 2
    assert area == pytest.approx(math.pi * 0.2 ** 2, rel=0.02)


def test_object_and_background_colours():
    f = Factors.make(shape="square", x=0.5, y=0.5, size=0.15, hue=0.0, bg_hue=1 / 3)
    image = render(f)[0]
    centre, corner = image[:, 32, 32], image[:, 32, 2]
    assert centre.argmax() == 0 and corner.argmax() == 1  # red object on a green background
    # the gradient: the background hue changes from top to bottom, value/saturation do not
    assert not torch.allclose(image[:, 1, 1], image[:, 62, 1])
    assert image[:, 1, 1].max().item() == pytest.approx(image[:, 62, 1].max().item(), abs=1e-6)


def test_rotation_is_counter_clockwise_on_screen():
    up = Factors.make(shape="triangle", x=0.5, y=0.5, size=0.2, rotation=0.0)
    left = up.replace(rotation=torch.tensor([math.pi / 2]))
    top, side = object_mask(up)[0], object_mask(left)[0]
    assert top[:32].sum() < top[32:].sum()  # apex up: more mass in the lower half
    assert side[:, 32:].sum() > side[:, :32].sum()  # apex turned left: base on the right


def test_sampler_covers_its_ranges_and_shapes():
    f = sample_factors(3000, generator=torch.Generator().manual_seed(0))
    assert set(f.shape.tolist()) == {0, 1, 2}
    table = f.continuous()
    for column, (low, high) in enumerate(SAMPLE_RANGES.values()):
        assert low <= table[:, column].min() and table[:, column].max() <= high
        assert table[:, column].max() - table[:, column].min() > 0.9 * (high - low)


def test_latent_factors_render_like_the_sampler():
    mid = latent_factors(torch.zeros(1, 16))
    assert mid.shape.item() == SHAPES.index("square")
    for name in ("x", "y", "size"):
        assert getattr(mid, name).item() == pytest.approx(sum(SAMPLE_RANGES[name]) / 2)
    quarter = torch.zeros(1, 16)
    quarter[0, 4] = 1.0  # the rotation pair (3, 4) pointing a quarter turn round
    assert latent_factors(quarter).rotation.item() == pytest.approx(math.pi / 2 / 4)  # a square
    f = latent_factors(torch.randn(30000, 16, generator=torch.Generator().manual_seed(0)))
    assert torch.bincount(f.shape, minlength=3).float().div(len(f)).sub(1 / 3).abs().max() < 0.02
    # Rotation spans one symmetry period: scaled back by the order, it is uniform in the range.
    period = torch.tensor([max(k, 1) for k in SYMMETRY])[f.shape]
    f = f.replace(rotation=f.rotation * period)
    quartiles = torch.quantile(f.continuous(), torch.tensor([0.25, 0.5, 0.75]), dim=0)
    for column, (low, high) in enumerate(SAMPLE_RANGES.values()):
        expected = low + (high - low) * torch.tensor([0.25, 0.5, 0.75])
        assert torch.allclose(quartiles[:, column], expected, atol=0.02 * (high - low))


@pytest.mark.parametrize("name", MOTIONS)
def test_motion_is_continuous_in_time(name):
    t = torch.tensor([0.37, 0.37 + 1e-4, 0.37 + 1 / 25])
    frames = video(name, times=t).images
    small = (frames[1] - frames[0]).abs().max().item()
    step = (frames[2] - frames[0]).abs().max().item()
    assert small < 0.02 and step > 5 * small


def test_frames_sit_at_i_over_fps_and_in_between_frames_are_exact():
    clip = video("circle", frames=9, fps=10)
    assert torch.equal(clip.times, torch.arange(9, dtype=torch.float64) / 10)
    between = video("circle", times=[0.25]).images[0]
    assert torch.equal(between, render(MOTIONS["circle"].factors([0.25]))[0])


def test_circle_has_radius_0_2_and_a_32_frame_period():
    f = MOTIONS["circle"].factors(frame_times(33))
    radius = torch.hypot(f.x - 0.5, f.y - 0.5)
    assert torch.allclose(radius, torch.full_like(radius, 0.2), atol=1e-6)
    assert f.x[0] == pytest.approx(f.x[32].item(), abs=1e-6)
    assert f.y[0] == pytest.approx(f.y[32].item(), abs=1e-6)
    assert abs(f.x[16].item() - f.x[0].item()) == pytest.approx(0.4, abs=1e-6)


def test_spin_turns_90_degrees_per_16_frames():
    f = MOTIONS["spin"].factors(frame_times(17))
    assert f.rotation[16] - f.rotation[0] == pytest.approx(math.pi / 2, abs=1e-6)
    frames = video("spin", frames=17).images
    assert torch.allclose(frames[16], frames[0], atol=1e-3)  # a square looks the same


@pytest.mark.parametrize("name", MOTIONS)
def test_hue_edit_changes_only_the_object_colour(name):
    original, edited = video(name, frames=20), video(name, frames=20, edit="hue")
    assert torch.equal(object_mask(original.factors), object_mask(edited.factors))
    background = object_mask(original.factors)[:, None] == 0
    assert torch.equal(original.images * background, edited.images * background)
    assert (original.images - edited.images).abs().amax() > 0.3
    shift = torch.remainder(edited.factors.hue - original.factors.hue, 1.0)
    assert torch.allclose(shift, torch.full_like(shift, 0.25), atol=1e-5)


def test_size_edit_scales_the_object_only():
    original, edited = video("combo", frames=12), video("combo", frames=12, edit="size")
    ratio = object_mask(edited.factors).sum((1, 2)) / object_mask(original.factors).sum((1, 2))
    assert torch.allclose(ratio, torch.full_like(ratio, 1.3 ** 2), rtol=0.03)
    for name in ("x", "y", "rotation", "hue", "bg_hue"):
        assert torch.equal(getattr(original.factors, name), getattr(edited.factors, name))


def test_unknown_names_list_the_valid_ones():
    from dynode_core.errors import InputError

    with pytest.raises(InputError, match="valid motions: circle"):
        get_motion("orbit")
    with pytest.raises(InputError, match="valid edits: " + ", ".join(EDITS)):
        video("circle", frames=2, edit="colour")


def test_to_uint8_layout():
    images = render(Factors.make(shape="disk", x=0.5, y=0.5, size=0.1, n=2))
    out = to_uint8(images)
    assert out.shape == (2, 64, 64, 3) and out.dtype == torch.uint8


def _cli():
    from dynode_core.cli import cli
    from dynode_core.plugins import get_plugin_manager

    get_plugin_manager().hook.register_commands(cli=cli)
    return cli


@pytest.mark.parametrize("suffix", [".mp4", ".gif"])
def test_cli_writes_a_clip_with_the_right_frame_count(tmp_path, suffix):
    av = pytest.importorskip("av")
    from click.testing import CliRunner

    out = tmp_path / f"clip{suffix}"
    result = CliRunner().invoke(_cli(), ["world", "video", "--motion", "combo", "--frames", "21",
                                         "--fps", "25", "--edit", "size", "--out", str(out)])
    assert result.exit_code == 0, result.output
    with av.open(str(out)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == 21 and frames[0].shape == (64, 64, 3)
    # refuses to overwrite without --overwrite
    again = CliRunner().invoke(_cli(), ["world", "video", "--out", str(out)])
    assert again.exit_code == 1 and "exists" in again.output


def test_cli_rejects_an_unknown_motion(tmp_path):
    from click.testing import CliRunner

    result = CliRunner().invoke(_cli(), ["world", "video", "--motion", "orbit",
                                         "--out", str(tmp_path / "x.mp4")])
    assert result.exit_code == 2  # an invalid invocation
    assert "valid motions: circle" in result.output and not (tmp_path / "x.mp4").exists()


def test_world_sources_read_like_any_video():
    import numpy as np

    from dynode_core.errors import InputError
    from dynode_core.video import probe_video, read_all

    batch = read_all("world:circle:10:20")
    assert batch.frames.shape == (10, 64, 64, 3) and batch.frames.dtype == np.uint8
    assert np.allclose(batch.times, np.arange(10) / 20)
    assert probe_video("world:spin:5").frames == 5
    with pytest.raises(InputError, match="valid: .*circle"):
        read_all("world:nope")
