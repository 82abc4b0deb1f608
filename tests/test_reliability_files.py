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
