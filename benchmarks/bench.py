"""The ``dynode bench`` runs behind docs/performance.md's "Bench" section.

Runs ``dynode bench interpolate`` and ``dynode bench edit`` with the configuration
below (each JSON records the exact command, the load average and the versions),
then writes ``OUT/bench.md``: the commands and the tables, ready for the docs.
``--images DIR`` also copies the plots there (e.g. docs/images); ``--report-only``
rebuilds ``bench.md`` from the JSON files already in OUT.

    PYTHONPATH=.:plugins python benchmarks/bench.py --out runs/bench --images docs/images
    PYTHONPATH=.:plugins python benchmarks/bench.py --out runs/bench-quick --quick
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

#: The documented configuration: two motions, 33 frames, every frame inverted by the encoder
#: plus 100 refine steps; every learned bundled dynamics against the spline baselines, the
#: pixel baselines and the held-out inversions.
INVERSION = ["--inverter", "hybrid", "--inversion-steps", "100"]
INTERPOLATE = [*INVERSION, "--motions", "circle,spin", "--frames", "33", "--every", "2,4,8",
               "--methods", "linear,cubic,pchip,ode,cde,sde,dynode-paper,nearest-frame,"
                            "crossfade,inverted-heldout"]
EDIT = [*INVERSION, "--motions", "circle,spin", "--frames", "33", "--methods", "linear,ode,cde",
        "--edits", "hue,size"]
PARTS = {"interpolate": INTERPOLATE, "edit": EDIT}


def run(part: str, out: Path, quick: bool, extra: list[str]) -> dict:
    from dynode_core.cli import main as dynode

    args = ["bench", part, "--out", str(out), "--overwrite",
            *(["--quick"] if quick else PARTS[part]), *extra]
    print("$ dynode " + " ".join(args), flush=True)
    if dynode(args) != 0:
        raise SystemExit(f"dynode bench {part} failed")
    return json.loads((out / f"{part}.json").read_text())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("runs/bench"))
    parser.add_argument("--part", choices=[*PARTS, "all"], default="all")
    parser.add_argument("--quick", action="store_true", help="the tiny --quick configuration")
    parser.add_argument("--report-only", action="store_true",
                        help="rebuild OUT/bench.md from the JSON files already in OUT")
    parser.add_argument("--images", type=Path, default=None,
                        help="copy the plots here as bench-PART.png")
    parser.add_argument("extra", nargs="*", help="more `dynode bench` options (after --)")
    args = parser.parse_args(argv)
    from dynode_shapes.bench.report import add_comparisons, markdown

    parts = list(PARTS) if args.part == "all" else [args.part]
    sections = []
    for part in parts:
        data = (json.loads((args.out / f"{part}.json").read_text()) if args.report_only
                else run(part, args.out, args.quick, args.extra))
        add_comparisons(data["rows"])
        load = ", ".join(f"{v:.1f}" for v in data["load_average"])
        sections.append(f"```\n{data['command']}\n```\n\n{data['seconds']:.0f} s wall-clock "
                        f"(load average {load}; torch {data['versions'].get('torch', '?')}).\n\n"
                        + markdown(data["rows"]))
        if args.images:
            args.images.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(args.out / f"{part}.png", args.images / f"bench-{part}.png")
    (args.out / "bench.md").write_text("\n".join(sections))
    print(f"wrote {args.out / 'bench.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
