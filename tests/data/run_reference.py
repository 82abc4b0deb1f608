"""A small ``dynode run`` whose codes and metrics are pinned (made before the run package
was reorganised, so any later change to what a run computes shows up).

    python tests/data/run_reference.py --write    # deliberately re-pin after a change

The run: the demo world clip (8 frames), seed 0, one torch thread, the default ``ode``
dynamics, 2x interpolation and the bundled model's named hue edit.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REFERENCE = Path(__file__).with_name("run_reference.safetensors")
CONFIG = dict(demo_frames=8, inversion_steps=5, interpolate=2, edits=["supervised:hue:1"],
              batch_size=4, device="cpu", seed=0)
METRICS = ("reconstruction_psnr", "reconstruction_ssim", "fit_loss", "frames",
           "interpolated_frames")


def run_reference(out) -> tuple[dict, dict]:
    """(tensors, metrics) of the reference run written to ``out``, on one thread."""
    import torch

    from dynode_core import RunConfig, run_pipeline

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = run_pipeline(RunConfig(out=str(out), **CONFIG), progress=False)
    finally:
        torch.set_num_threads(threads)
    tensors = {"latents": result.trajectory.latents, "times": result.trajectory.times,
               "interpolated": result.interpolated.latents}
    tensors.update({f"edited/{name}": codes for name, codes in result.edited.items()})
    return tensors, {key: result.metrics[key] for key in METRICS}


def machine() -> dict:
    import torch

    return {"torch": torch.__version__, "cpu_capability": torch.backends.cpu.get_cpu_capability()}


def write(out) -> None:
    from safetensors.torch import save_file

    tensors, metrics = run_reference(out)
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(REFERENCE),
              metadata={"metrics": json.dumps(metrics), "machine": json.dumps(machine())})


if __name__ == "__main__":
    import tempfile

    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python tests/data/run_reference.py --write")
    with tempfile.TemporaryDirectory() as tmp:
        write(Path(tmp) / "run")
    print(f"wrote {REFERENCE}")
