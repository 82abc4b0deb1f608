"""The run reproduces the pinned reference run (tests/data/run_reference.py), so that a
change to what a run computes shows up, and only such a change.

Codes (the edited ones too) are compared to 1e-4 and metrics to 1e-4 relative: the same
torch on another CPU of the same kind, or another BLAS build, moves codes by about 1e-5
(measured: 7.9e-6), and every edit is a continuous function of the codes
(tests/test_edit_continuity.py), while any change to the inversion, the fit, the edit or the
propagation moves them by far more.
"""

import json
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent / "data"))
import run_reference  # noqa: E402

CODES_ATOL = 1e-4
METRICS_REL = 1e-4


def _reference():
    from safetensors import safe_open

    with safe_open(str(run_reference.REFERENCE), framework="pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    return tensors, json.loads(meta["metrics"])


def test_the_run_reproduces_the_pinned_reference(tmp_path):
    expected, metrics = _reference()
    tensors, got = run_reference.run_reference(tmp_path / "run")
    assert sorted(tensors) == sorted(expected)
    for name, want in expected.items():
        assert torch.allclose(tensors[name], want, rtol=0, atol=CODES_ATOL), name
    for key, value in metrics.items():
        assert got[key] == (value if isinstance(value, int)
                            else pytest.approx(value, rel=METRICS_REL)), key
