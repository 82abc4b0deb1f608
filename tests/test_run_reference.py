"""The run package reproduces the pinned reference run: same codes, bit for bit, and the
same metrics (tests/data/run_reference.py made it before the run package existed)."""

import json
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent / "data"))
import run_reference  # noqa: E402


def _reference():
    from safetensors import safe_open

    with safe_open(str(run_reference.REFERENCE), framework="pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    return tensors, json.loads(meta["metrics"]), json.loads(meta["machine"])


def test_the_run_reproduces_the_pinned_reference(tmp_path):
    expected, metrics, machine = _reference()
    tensors, got = run_reference.run_reference(tmp_path / "run")
    assert sorted(tensors) == sorted(expected)
    exact = machine == run_reference.machine()
    for name, want in expected.items():
        if exact:  # the machine that made the reference: bit for bit
            assert torch.equal(tensors[name], want), name
        else:  # another CPU kernel set (e.g. AVX2): float rounding may differ slightly
            assert torch.allclose(tensors[name], want, rtol=0, atol=1e-3), name
    for key, value in metrics.items():
        assert got[key] == (value if exact or isinstance(value, int)
                            else pytest.approx(value, rel=1e-3)), key
