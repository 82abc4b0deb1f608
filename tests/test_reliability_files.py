"""Every reader holds against hostile files: a malformed network pickle (a missing tensor,
submodules that are not a dict, a cyclic or exponentially shared module graph) and a
damaged tuning delta are each one line naming the file, found quickly, never a traceback
or a hang."""

from __future__ import annotations

import json
import time

import pytest
import torch

from dynode_core import InputError, get_registry

from test_nvidia_pickle import dump, module, small_generator, write_network_pickle


def _load(path):
    return get_registry().create("generators", "stylegan2", checkpoint=str(path))


def _assert_one_line(path, *words):
    with pytest.raises(InputError) as caught:
        _load(path)
    text = str(caught.value)
    assert "\n" not in text and str(path) in text, text
    for word in words:
        assert word in text, text


def test_a_pickle_with_a_missing_tensor_is_one_line_naming_the_file(tmp_path):
    from test_nvidia_pickle import nvidia_generator

    generator = nvidia_generator(small_generator())
    fc0 = generator.meta["state"]["_modules"]["mapping"].meta["state"]["_modules"]["fc0"]
    del fc0.meta["state"]["_parameters"]["weight"]
    path = tmp_path / "missing.pkl"
    dump({"G_ema": generator, "D": module("Discriminator")}, path)
    _assert_one_line(path)


def test_submodules_that_are_not_a_dict_are_one_line(tmp_path):
    bad = module("Generator")
    bad.meta["state"]["_modules"] = [("mapping", module("MappingNetwork"))]
    path = tmp_path / "list.pkl"
    dump({"G_ema": bad}, path)
    _assert_one_line(path, "_modules is a list")


def _cyclic_pickle() -> bytes:
    """A network whose ``_modules`` holds the network itself, written opcode by opcode
    (pickle.dump cannot write such a cycle through __reduce__)."""
    def text(s: str) -> bytes:
        data = s.encode()
        return b"X" + len(data).to_bytes(4, "little") + data

    ops = b"\x80\x02ctorch_utils.persistence\n_reconstruct_persistent_obj\n("
    ops += b"}(" + text("type") + text("class") + text("class_name") + text("Generator")
    ops += text("state") + b"}(" + text("_modules") + b"}q\x01u" + b"u" + b"tR" + b"q\x02"
    ops += b"h\x01" + text("self") + b"h\x02" + b"s0" + b"0"
    ops += b"}" + text("G_ema") + b"h\x02" + b"s."
    return ops


def test_a_cyclic_module_graph_is_one_line(tmp_path):
    path = tmp_path / "cycle.pkl"
    path.write_bytes(_cyclic_pickle())
    _assert_one_line(path, "cycle")


def test_a_module_graph_shared_two_to_the_forty_ways_is_read_at_once(tmp_path):
    node = module("Leaf", {"w": torch.zeros(1)})
    for level in range(40):
        node = module(f"Level{level}", modules={"a": node, "b": node})
    path = tmp_path / "fanout.pkl"
    dump({"G_ema": node}, path)
    started = time.perf_counter()
    with pytest.raises(InputError):  # not a StyleGAN2 either way, but found in a moment
        _load(path)
    from dynode_core.formats import load_network

    net = load_network(path)
    assert len(net.state_dict()) == 1  # the shared leaf once, not 2**40 times
    assert time.perf_counter() - started < 60  # a bound on a hang, not a speed test


def _delta(tmp_path, header: dict | str):
    from safetensors.torch import save_file

    path = tmp_path / "tuned.safetensors"
    meta = {"format": "dynode.generator-delta/1",
            "config": header if isinstance(header, str) else json.dumps(header)}
    save_file({"w": torch.zeros(1)}, str(path), metadata=meta)
    return path


@pytest.mark.parametrize("header, words", [
    ("{not json", ["not valid JSON"]),
    ("[1, 2]", ["not a JSON object"]),
    ({"base_sha256": 7}, ["base_sha256"]),
])
def test_a_delta_with_a_damaged_header_is_one_line(tmp_path, header, words):
    from dynode_core.app import read_generator_delta

    path = _delta(tmp_path, header)
    with pytest.raises(InputError) as caught:
        read_generator_delta(path)
    text = str(caught.value)
    assert "\n" not in text and str(path) in text, text
    for word in words:
        assert word in text, text


def test_a_junk_delta_file_is_one_line(tmp_path):
    from dynode_core.app import read_generator_delta

    path = tmp_path / "tuned.safetensors"
    path.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{junk!!}" + bytes(64))
    with pytest.raises(InputError, match="tuned.safetensors"):
        read_generator_delta(path)


# ------------------------------------------------------------------ batch manifests
def test_a_csv_manifest_saved_with_a_bom_is_read(tmp_path):
    from dynode_core.app import read_manifest

    path = tmp_path / "m.csv"
    path.write_bytes("input,interpolate\nworld:circle:6,2\n".encode("utf-8-sig"))
    [entry] = read_manifest(path)
    assert entry.config.input == "world:circle:6" and entry.config.interpolate == 2


def test_a_video_never_runs_in_a_folder_named_like_the_batchs_own_files(tmp_path):
    from dynode_core.app import read_manifest

    clip = tmp_path / "index.html.mp4"
    clip.write_bytes(b"")
    (tmp_path / "batch.json.mp4").write_bytes(b"")
    path = tmp_path / "m.csv"
    path.write_text("input\nindex.html.mp4\nbatch.json.mp4\n")
    names = [entry.name for entry in read_manifest(path)]
    assert names == ["index.html-video", "batch.json-video"]
    path.write_text("input,name\nindex.html.mp4,index.html\n")
    with pytest.raises(InputError, match="one of the batch's own files"):
        read_manifest(path)


def test_a_second_batch_on_the_same_folder_is_refused(tmp_path):
    from dynode_core.batch.driver import BATCH_LOCK
    from dynode_core.run import RunLock
    from conftest import run_dynode

    (tmp_path / "m.toml").write_text('[[video]]\ninput = "world:circle:4"\n')
    out = tmp_path / "out"
    out.mkdir()
    held = RunLock(out, BATCH_LOCK, "batch folder")  # as a running batch holds it
    try:
        proc = run_dynode("batch", str(tmp_path / "m.toml"), "--out", str(out), "--resume")
    finally:
        held.release()
    assert proc.returncode != 0 and "batch folder" in proc.stderr and "in use" in proc.stderr
    assert "Traceback" not in proc.stderr and not (out / "world-circle-4").exists()


# ------------------------------------------------------------------ output paths
def test_render_to_a_folder_whose_name_has_a_dot(tmp_path):
    from conftest import run_dynode

    codes = tmp_path / "codes.safetensors"
    from dynode_core import LatentTrajectory

    generator = get_registry().create("generators", "shapes64")
    LatentTrajectory(torch.tensor([0.0, 0.1]), generator.mean_latent().expand(2, generator.num_ws, -1)
                     .clone()).save(codes)
    proc = run_dynode("render", str(codes), "--out", str(tmp_path / "frames_0.7") + "/")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (tmp_path / "frames_0.7").iterdir()) == \
        ["frame_00000.png", "frame_00001.png"]


def test_align_never_writes_into_a_folder_that_is_not_its_own(tmp_path):
    from conftest import run_dynode

    mine = tmp_path / "photos"
    mine.mkdir()
    (mine / "aligned.mp4").write_bytes(b"my own file")
    clip = tmp_path / "clip.gif"
    from dynode_core import write_video
    import numpy as np

    write_video(clip, np.zeros((3, 32, 32, 3), np.uint8), fps=5)
    for extra in ([], ["--overwrite"]):
        proc = run_dynode("align", str(clip), "--align", "center", "--out", str(mine), *extra)
        assert proc.returncode != 0 and "not a dynode align output" in proc.stderr
    assert (mine / "aligned.mp4").read_bytes() == b"my own file"


def test_tune_refuses_a_wrong_suffix_before_any_work(tmp_path):
    from conftest import run_dynode

    proc = run_dynode("tune", str(tmp_path / "missing.safetensors"), "--frames", "world:circle:4",
                      "--out", str(tmp_path / "tuned.pt"))
    assert proc.returncode != 0  # the codes file is missing too: click checks it first
    codes = tmp_path / "codes.safetensors"
    codes.write_bytes(b"not looked at")
    proc = run_dynode("tune", str(codes), "--frames", "world:circle:4",
                      "--out", str(tmp_path / "tuned.pt"))
    assert proc.returncode != 0 and ".safetensors" in proc.stderr, proc.stderr
    assert not (tmp_path / "tuned.pt").exists()


# ------------------------------------------------------------------ audio as phones write it
def _clip_with_sound(path, codec: str, rate: int, damaged: bool = False, frames: int = 6):
    """A small mkv (mpeg4 picture) with a mono ``codec`` track at ``rate`` Hz; ``damaged``:
    the audio packets' bytes replaced by noise (the picture stays intact)."""
    import av
    import numpy as np

    with av.open(str(path), "w") as out:
        video = out.add_stream("mpeg4", rate=6)
        video.width = video.height = 64
        video.pix_fmt = "yuv420p"
        audio = out.add_stream(codec, rate=rate)
        audio.layout = "mono"
        for i in range(frames):
            image = np.full((64, 64, 3), 30 * i, np.uint8)
            for packet in video.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                out.mux(packet)
        wave = np.sin(np.arange(rate * frames // 6) / 3)
        fmt = audio.codec_context.format.name
        data = (wave * 3000).astype(np.int16)[None] if fmt.startswith("s16") else \
            wave.astype(np.float32)[None]
        sound = av.AudioFrame.from_ndarray(data, format=fmt, layout="mono")
        sound.sample_rate = rate
        noise = np.random.default_rng(0)
        for packet in [*audio.encode(sound), *audio.encode(None)]:
            if damaged:
                packet = av.Packet(bytes(noise.integers(0, 256, packet.size, dtype=np.uint8)))
                packet.stream = audio
            out.mux(packet)
        for packet in video.encode(None):
            out.mux(packet)
    return path


def _run(clip, out):
    from dynode_core import RunConfig, run_pipeline

    return run_pipeline(RunConfig(input=str(clip), out=str(out), inversion_steps=1,
                                  dynamics="linear", interpolate=2, device="cpu"),
                        progress=False)


def _streams(path):
    import av

    with av.open(str(path)) as container:
        return [(s.type, s.codec_context.name) for s in container.streams]


def test_a_5_khz_phone_track_is_resampled_for_aac(tmp_path):
    result = _run(_clip_with_sound(tmp_path / "low.mkv", "pcm_s16le", 5000), tmp_path / "run")
    assert result.metrics["audio"] == {"codec": "pcm_s16le", "dropped": None}
    assert ("audio", "aac") in _streams(tmp_path / "run" / "reconstruction.mp4")


def test_a_damaged_sound_track_is_dropped_with_a_warning_and_recorded(tmp_path):
    clip = _clip_with_sound(tmp_path / "bad.mkv", "flac", 8000, damaged=True)
    with pytest.warns(UserWarning, match="audio .flac. could not be read"):
        result = _run(clip, tmp_path / "run")
    assert result.metrics["audio"]["dropped"]  # the reason, in metrics.json too
    assert _streams(tmp_path / "run" / "reconstruction.mp4") == [("video", "h264")]
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["audio"]["dropped"] == result.metrics["audio"]["dropped"]
