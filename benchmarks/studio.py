"""``dynode studio``: how long the page waits for a preview, and how long the studio
takes to start.

Two runs of the 6-frame demo clip (1 inversion step, linear dynamics, x2 interpolation):
the bundled 64 px ``shapes64`` and a 256 px StyleGAN2 with random weights (rosinality's
channel table, seeded as ``benchmarks/generator.py`` makes them). For each, a studio
server in this process answers real HTTP requests (the page's own ``api/preview``),
timed end to end (the edit's codes, the generator, PNG encoding, HTTP):

- ``scrub``: the playhead moves, the edit stays (its codes are cached): one frame;
- ``strength``: a strength changes (a SeFa direction): the edit is propagated again over
  the clip, then one frame;
- ``guided`` (64 px only): a strength of the world's guided ``hue`` direction changes;
  that edit optimises a code per frame (80 Adam steps), so it is slower by design.

Each is the median of ``--reps`` requests after one warm-up. ``start_seconds``: from
``python -m dynode_core studio RUN --no-browser`` to the page's state answering (the
run's generator, codes and dynamics loaded, its directions listed). Records the torch
thread count and the 1-minute load average.

    PYTHONPATH=.:plugins OMP_NUM_THREADS=1 python benchmarks/studio.py --json studio.json
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

SMALL = dict(demo_frames=6, inversion_steps=1, dynamics="linear", interpolate=2, batch_size=4,
             device="cpu", edits=["sefa:0:1"])


def stylegan2_weights(path: Path, size: int = 256) -> Path:
    """A random-weight StyleGAN2 at ``size`` px, as a rosinality checkpoint."""
    import torch

    from dynode_stylegan2.model import StyleGAN2Generator

    torch.manual_seed(0)
    g = StyleGAN2Generator(size, 512, 8)
    for p in g.parameters():  # perturb zero-initialised noise strengths and biases too
        p.data.add_(0.05 * torch.randn_like(p))
    torch.save({"g_ema": g.state_dict()}, path)
    return path


def make_run(folder: Path, **settings) -> Path:
    from dynode_core import RunConfig, run_pipeline

    run_pipeline(RunConfig(out=str(folder), **{**SMALL, **settings}), progress=False)
    return folder


def get(server, path: str) -> tuple[float, int]:
    """(seconds, status) of one GET of the studio, end to end."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
    started = time.perf_counter()
    connection.request("GET", f"/{server.token}/{path}",
                       headers={"Host": f"127.0.0.1:{server.port}"})
    reply = connection.getresponse()
    reply.read()
    seconds = time.perf_counter() - started
    connection.close()
    return seconds, reply.status


def median_ms(server, paths: list[str]) -> float:
    times = []
    for path in paths:
        seconds, status = get(server, path)
        assert status == 200, (path, status)
        times.append(seconds)
    return round(1000 * statistics.median(times), 1)


def preview_latency(folder: Path, reps: int, guided: bool) -> dict:
    from dynode_core.studio import StudioServer

    server = StudioServer(folder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        get(server, "api/state")
        get(server, "api/preview?edit=sefa:0:1&index=0")  # warm-up
        result = {
            "scrub_ms": median_ms(server, [f"api/preview?edit=sefa:0:1&index={i % 11}"
                                           for i in range(1, reps + 1)]),
            "strength_ms": median_ms(server, [f"api/preview?edit=sefa:0:{1 + 0.1 * i:.1f}"
                                              "&index=4" for i in range(1, reps + 1)])}
        if guided:
            get(server, "api/preview?edit=supervised:hue:1&index=4")
            result["guided_ms"] = median_ms(server, [
                f"api/preview?edit=supervised:hue:{1 + 0.1 * i:.1f}&index=4"
                for i in range(1, min(reps, 3) + 1)])
        result["resolution"] = server.session(None).generator.resolution
        return result
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def start_seconds(folder: Path) -> float:
    """Seconds from starting ``dynode studio`` until its page's state answers."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "dynode_core", "studio", str(folder),
                                "--no-browser"], stdout=subprocess.PIPE, text=True)
    try:
        url = process.stdout.readline().split()[2]
        port = int(url.split(":")[2].split("/")[0])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        connection.request("GET", url.split(str(port), 1)[1] + "api/state",
                           headers={"Host": f"127.0.0.1:{port}"})
        assert connection.getresponse().status == 200
        return round(time.perf_counter() - started, 2)
    finally:
        process.terminate()
        process.wait()


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=9)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    results = {"threads": torch.get_num_threads(), "load_1min": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        small = make_run(scratch / "shapes64")
        weights = stylegan2_weights(scratch / "stylegan2-256.pt")
        big = make_run(scratch / "stylegan2-256", generator="stylegan2", checkpoint=str(weights))
        results["start_seconds_64px"] = start_seconds(small)
        results["64px"] = preview_latency(small, args.reps, guided=True)
        results["256px"] = preview_latency(big, args.reps, guided=False)
    results["load_1min_after"] = os.getloadavg()[0]
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")


if __name__ == "__main__":
    main()
