"""Video I/O: the core helpers in dynode_core.video and the bundled dynode_video plugin."""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from dynode_core.errors import InputError
from dynode_core.interfaces import FrameBatch
from dynode_core.video import probe_video, read_all, read_video, write_video

av = pytest.importorskip("av")
Image = pytest.importorskip("PIL.Image")


def clip(n: int = 12, height: int = 64, width: int = 64) -> np.ndarray:
    """A smooth moving pattern, different in every frame: (n, H, W, 3) uint8."""
    yy, xx = np.mgrid[0:height, 0:width] / max(height, width)
    frames = []
    for i in range(n):
        phase = i / n
        red = 128 + 90 * np.sin(2 * np.pi * (xx + phase))
        green = 128 + 90 * np.cos(2 * np.pi * (yy - phase))
        blue = np.full_like(xx, 40 + 15 * i)
        frames.append(np.stack([red, green, blue], -1))
    return np.clip(np.rint(frames), 0, 255).astype(np.uint8)


def mean_abs_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def assert_one_line_naming(exc_info, path: Path) -> str:
    message = str(exc_info.value)
    assert "\n" not in message
    assert str(path) in message
    return message


# -- mp4 ----------------------------------------------------------------------------
def test_mp4_round_trip_keeps_count_size_times_and_pixels(tmp_path):
    frames = clip(12)
    path = write_video(tmp_path / "clip.mp4", frames, fps=25)
    info = probe_video(path)
    assert (info.frames, info.width, info.height, info.fps) == (12, 64, 64, 25.0)

    back = read_all(path)
    assert back.frames.shape == frames.shape and back.frames.dtype == np.uint8
    np.testing.assert_allclose(back.times, np.arange(12) / 25, atol=1e-3)
    assert mean_abs_error(back.frames, frames) < 3.0


def test_batches_yield_the_same_frames_as_batch_size_one(tmp_path):
    path = write_video(tmp_path / "clip.mp4", clip(12), fps=25)
    batches = list(read_video(path, batch_size=5))
    singles = list(read_video(path, batch_size=1))
    assert [len(b.frames) for b in batches] == [5, 5, 2]
    assert all(isinstance(b, FrameBatch) for b in batches)
    assert len(singles) == 12
    np.testing.assert_array_equal(np.concatenate([b.frames for b in batches]),
                                  np.concatenate([b.frames for b in singles]))
    np.testing.assert_array_equal(np.concatenate([b.times for b in batches]),
                                  np.concatenate([b.times for b in singles]))


def test_mp4_writer_streams_batches_and_pads_odd_sizes(tmp_path):
    frames = clip(6, height=45, width=63)

    def stream():  # a mix of single frames, a batch and a FrameBatch
        yield frames[0]
        yield frames[1:4]
        yield FrameBatch(frames=frames[4:], times=np.arange(4, 6) / 30)

    path = write_video(tmp_path / "odd.mp4", stream(), fps=30000 / 1001)
    back = read_all(path)
    assert back.frames.shape == (6, 46, 64, 3)  # padded to even by repeating the edge
    assert mean_abs_error(back.frames[:, :45, :63], frames) < 3.0
    np.testing.assert_allclose(back.times, np.arange(6) * 1001 / 30000, atol=1e-3)


def test_failed_write_leaves_no_file(tmp_path):
    def broken():
        yield from clip(3)
        raise InputError("source went away")

    target = tmp_path / "out.mp4"
    with pytest.raises(InputError, match="source went away"):
        write_video(target, broken(), fps=25)
    assert list(tmp_path.iterdir()) == []

    with pytest.raises(InputError, match="must be \\(H, W, 3\\) uint8"):
        write_video(target, np.zeros((2, 8, 8, 3), np.float32), fps=25)
    with pytest.raises(InputError, match="fps must be positive"):
        write_video(target, clip(2), fps=0)
    assert list(tmp_path.iterdir()) == []


def test_variable_frame_rate_timestamps_are_kept(tmp_path):
    path = tmp_path / "vfr.mp4"
    pts_ms = [0, 40, 120, 130, 300, 310, 320, 500]
    frames = clip(len(pts_ms), 32, 32)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        stream.time_base = stream.codec_context.time_base = Fraction(1, 1000)
        for pts, array in zip(pts_ms, frames):
            frame = av.VideoFrame.from_ndarray(array, format="rgb24")
            frame.pts, frame.time_base = pts, Fraction(1, 1000)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))

    back = read_all(path)
    np.testing.assert_allclose(back.times, np.array(pts_ms) / 1000, atol=1e-4)
    assert len(back.frames) == len(pts_ms)


# -- damaged input --------------------------------------------------------------------
def test_truncated_mp4_fails_with_one_line(tmp_path):
    data = write_video(tmp_path / "good.mp4", clip(12), fps=25).read_bytes()
    bad = tmp_path / "cut.mp4"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError) as exc_info:
        read_all(bad)
    assert_one_line_naming(exc_info, bad)


def test_mp4_cut_at_a_packet_boundary_is_still_reported(tmp_path):
    """PyAV decodes such a file without error, just fewer frames: the reader must notice."""
    good = write_video(tmp_path / "good.mp4", clip(12), fps=25)
    with av.open(str(good)) as container:
        positions = [p.pos for p in container.demux(video=0) if p.size]
    bad = tmp_path / "cut.mp4"
    bad.write_bytes(good.read_bytes()[: positions[8]])

    with av.open(str(bad)) as container:  # the failure mode being guarded against
        assert 0 < sum(1 for _ in container.decode(video=0)) < 12
    decoded = []
    with pytest.raises(InputError, match="truncated") as exc_info:
        for batch in read_video(bad, batch_size=4):
            decoded.append(len(batch.frames))
    assert_one_line_naming(exc_info, bad)
    assert "declares 12 frames" in str(exc_info.value)


def test_mp4_cut_inside_its_last_packet_is_reported(tmp_path):
    """Every packet is there, the last one partly: only the decoder can tell."""
    good = write_video(tmp_path / "good.mp4", clip(12), fps=25)
    with av.open(str(good)) as container:
        last = [p for p in container.demux(video=0) if p.size][-1]
        cut = last.pos + last.size // 2
    bad = tmp_path / "cut.mp4"
    bad.write_bytes(good.read_bytes()[:cut])
    with pytest.raises(InputError) as exc_info:
        read_all(bad)
    assert_one_line_naming(exc_info, bad)


def test_text_file_renamed_mp4_fails_with_one_line(tmp_path):
    bad = tmp_path / "notes.mp4"
    bad.write_text("these are not frames\n" * 20)
    with pytest.raises(InputError) as exc_info:
        read_all(bad)
    assert_one_line_naming(exc_info, bad)
    with pytest.raises(InputError):
        probe_video(bad)


def test_video_without_frames_fails(tmp_path):
    path = tmp_path / "empty.avi"  # an avi keeps a video stream that holds no frame
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        out.start_encoding()
    with pytest.raises(InputError, match="no decodable frames") as exc_info:
        read_all(path)
    assert_one_line_naming(exc_info, path)


def test_missing_file_and_unknown_suffix(tmp_path):
    with pytest.raises(InputError, match="no such file") as exc_info:
        read_video(tmp_path / "nope.mp4")
    assert_one_line_naming(exc_info, tmp_path / "nope.mp4")

    odd = tmp_path / "clip.xyz"
    odd.write_bytes(b"\0" * 16)
    with pytest.raises(InputError, match=r"supported: .*\.gif.*\.mp4.*folder") as exc_info:
        read_video(odd)
    assert_one_line_naming(exc_info, odd)
    with pytest.raises(InputError, match=r"supported: .*\.gif.*\.mp4"):
        write_video(tmp_path / "out.xyz", clip(2), fps=25)


# -- GIF and frame folders ------------------------------------------------------------
def test_gif_round_trip_in_order_with_times(tmp_path):
    frames = clip(10, 32, 32)
    path = write_video(tmp_path / "clip.gif", frames, fps=20)
    info = probe_video(path)
    assert (info.frames, info.width, info.height) == (10, 32, 32)
    assert info.fps == pytest.approx(20)

    back = read_all(path)
    np.testing.assert_allclose(back.times, np.arange(10) / 20, atol=1e-9)
    assert back.frames.shape == frames.shape
    # each frame matches its own source better than any other (right order)
    errors = np.array([[mean_abs_error(b, f) for f in frames] for b in back.frames])
    assert list(errors.argmin(axis=1)) == list(range(10))
    assert np.diag(errors).max() < 8.0  # palette quantisation


def test_gif_frame_delays_become_timestamps(tmp_path):
    path = tmp_path / "delays.gif"
    images = [Image.fromarray(np.full((8, 8, 3), v, np.uint8)) for v in (0, 80, 160, 240)]
    images[0].save(path, save_all=True, append_images=images[1:], duration=[100, 50, 200, 30])
    back = read_all(path)
    np.testing.assert_allclose(back.times, [0.0, 0.1, 0.15, 0.35])
    assert [int(f[0, 0, 0]) for f in back.frames] == [0, 80, 160, 240]


def test_png_folder_reads_in_natural_order(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(1, 13):
        Image.fromarray(np.full((16, 16, 3), i * 20, np.uint8)).save(folder / f"frame{i}.png")
    (folder / "notes.txt").write_text("ignored")

    back = read_all(folder)
    assert [int(f[0, 0, 0]) for f in back.frames] == [i * 20 for i in range(1, 13)]
    np.testing.assert_allclose(back.times, np.arange(12) / 25)
    assert probe_video(folder).frames == 12
    np.testing.assert_allclose(read_all(folder, fps=10).times, np.arange(12) / 10)


def test_image_modes_are_converted_to_rgb_uint8(tmp_path):
    folder = tmp_path / "modes"
    folder.mkdir()
    Image.fromarray(np.full((4, 6), 77, np.uint8)).save(folder / "f1.png")  # L
    rgba = np.zeros((4, 6, 4), np.uint8)
    rgba[...] = (200, 100, 50, 255)
    rgba[:, :3, 3] = 0  # left half fully transparent
    Image.fromarray(rgba).save(folder / "f2.png")
    sixteen = np.full((4, 6), 65535, np.uint16)
    sixteen[:, :3] = 32896  # 128 * 257
    Image.fromarray(sixteen).save(folder / "f3.png")  # 16-bit grayscale
    assert Image.open(folder / "f3.png").mode.startswith("I")
    Image.fromarray(np.full((4, 6, 3), (10, 20, 30), np.uint8)).convert(
        "P", palette=Image.Palette.ADAPTIVE).save(folder / "f4.png")

    back = read_all(folder)
    assert back.frames.shape == (4, 4, 6, 3) and back.frames.dtype == np.uint8
    gray, alpha, deep, palette = back.frames
    assert (gray == 77).all()
    assert (alpha[:, :3] == 0).all() and (alpha[:, 3:] == (200, 100, 50)).all()
    assert (deep[:, :3] == 128).all() and (deep[:, 3:] == 255).all()
    assert (palette == (10, 20, 30)).all()


def test_folder_errors_name_the_file(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    with pytest.raises(InputError, match="no .png"):
        read_all(folder)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(folder / "a1.png")
    Image.fromarray(np.zeros((8, 10, 3), np.uint8)).save(folder / "a2.png")
    with pytest.raises(InputError) as exc_info:
        read_all(folder)
    assert_one_line_naming(exc_info, folder / "a2.png")


# -- plugin ---------------------------------------------------------------------------
def test_plugin_module_imports_nothing_heavy():
    code = ("import sys, dynode_video; "
            "print(sorted(m for m in ('av', 'PIL', 'numpy', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


# ------------------------------------------------------------------ pushing frames


@pytest.mark.parametrize("suffix", [".mp4", ".gif"])  # mp4: in-thread sink; gif: threaded default
def test_open_video_writes_pushed_batches_and_leaves_nothing_when_abandoned(tmp_path, suffix):
    from dynode_core import read_video
    from dynode_core.app import open_video
    from dynode_core.video import read_all

    frames = np.concatenate([b.frames for b in read_video("world:circle:6", 6)])
    with open_video(tmp_path / f"ok{suffix}", fps=10) as sink:
        sink.add(frames[:4])
        sink.add(frames[4:])
    assert read_all(tmp_path / f"ok{suffix}").frames.shape[0] == 6

    class Stop(Exception):
        pass

    with pytest.raises(Stop):
        with open_video(tmp_path / f"no{suffix}", fps=10) as sink:
            sink.add(frames[:3])
            raise Stop
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"ok{suffix}"]  # no temporary left


def test_a_pushed_frame_of_another_size_is_refused_in_one_line(tmp_path):
    from dynode_core import InputError
    from dynode_core.app import open_video

    with pytest.raises(InputError, match=r"frame 2 is 8x8, but earlier frames are 16x16"):
        with open_video(tmp_path / "v.mp4", fps=10) as sink:
            sink.add(np.zeros((2, 16, 16, 3), np.uint8))
            sink.add(np.zeros((1, 8, 8, 3), np.uint8))
    assert not list(tmp_path.iterdir())
