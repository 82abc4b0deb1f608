"""Export the EMA generator of a shapes GAN training checkpoint as the bundled ``shapes64``.

Writes ``plugins/dynode_shapes/weights/shapes64.safetensors`` + ``.json`` (format
``dynode.stylegan2/1``, through the stylegan2 plugin's saver); the JSON records the
checkpoint, training step and kimg.

    PYTHONPATH=.:plugins python scripts/export_shapes64.py \\
        --checkpoint /work/train_out/checkpoints/step-0001500.pt
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [p for p in (str(ROOT), str(ROOT / "plugins"), str(ROOT / "scripts"))
                if p not in sys.path]

from dynode_shapes.models import GENERATOR_WEIGHTS  # noqa: E402
from shapes_checkpoints import export_generator  # noqa: E402


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", type=Path, required=True,
                   help="a scripts/train_shapes_gan.py checkpoint (OUT/checkpoints/step-N.pt)")
    p.add_argument("--out", type=Path, default=GENERATOR_WEIGHTS, help="where to write the export")
    p.add_argument("--note", default=None, help="free text stored in the JSON (e.g. 'partly trained')")
    args = p.parse_args(argv)
    notes = {"note": args.note} if args.note else {}
    record = export_generator(args.checkpoint, args.out, **notes)
    info = record["training"]
    size = args.out.stat().st_size / 2 ** 20
    print(f"wrote {args.out} ({size:.1f} MiB): step {info['step']}, {info['kimg']:g} kimg; "
          f"config {json.dumps(record['config'])}")


if __name__ == "__main__":
    main()
