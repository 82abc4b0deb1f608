"""Named edit directions of ``shapes64``, fitted from the factor regressor's readings.

``scripts/fit_shapes_directions.py`` samples W codes, renders them, reads every
factor with the bundled regressor and builds, per factor, with strength 1.0
moving it by :data:`AMOUNTS` on average (measured on held-out samples):

- ``x``, ``y``, ``size``, ``hue``, ``bg_hue``: guided edits
  (:mod:`dynode_shapes.guided`): a small network trained through the generator and the
  regressor gives each code its offset, holding the other factors; the record names
  the network's file (beside this one); the direction's ``vector`` is the principal
  direction of the held-out offsets.
- ``x-linear``, ``y-linear``, ``size-linear``: InterFaceGAN-style straight
  directions, the ridge normal in W (:func:`dynode_editors.supervised.fit_boundary`)
  with the latent distance per strength calibrated. They are cheap and exact
  offsets, but this generator's W is tangled: they move other factors too (the
  measured leakage is in the JSON and the model card). The hues get no straight
  direction: a periodic factor cannot turn along a line.

The directions are stored with the SHA-256 of the generator weights they were
fitted on and offered (``supervised:hue:1``) only with those weights.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch

from dynode_core import Direction

FORMAT = "dynode.shapes-directions/1"
#: What strength 1.0 moves, per factor, in the world's units (fractions of the frame
#: for x, y, size; turns of the colour wheel for the hues).
AMOUNTS = {"x": 0.1, "y": 0.1, "size": 0.05, "hue": 0.25, "bg_hue": 0.25}
PERIODIC = ("hue", "bg_hue")
UNITS = {"x": "frame widths", "y": "frame heights", "size": "frame widths (radius)",
         "hue": "turns", "bg_hue": "turns"}


@dataclass
class FactorDirection(Direction):
    """A named world direction: strength 1.0 moves ``factor`` by ``amount`` on average;
    ``period`` is the factor's period (1.0 turn for the hues, None for the others)."""

    factor: str = ""
    amount: float = 0.0
    period: float | None = None

    def __post_init__(self) -> None:
        if self.period is None and self.factor in PERIODIC:
            self.period = 1.0


def weights_sha256(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def save_directions(path, tensors: dict, record: dict) -> None:
    """Write fitted tensors (safetensors) and the record (metadata and a JSON sidecar)."""
    from dynode_core import atomic_write_text, write_safetensors

    write_safetensors(path, {k: v.float() for k, v in tensors.items()}, fmt=FORMAT,
                      metadata={"record": json.dumps(record)})
    atomic_write_text(Path(path).with_suffix(".json"), json.dumps(record, indent=2) + "\n")


def load_directions(path, generator, generator_weights=None) -> dict[str, FactorDirection]:
    """The named directions in ``path`` for ``generator``; ``{}`` when they (or the guided
    edits' network) were fitted on other weights than the file ``generator_weights``."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        meta = handle.metadata() or {}
        if meta.get("format") != FORMAT:
            return {}
        record = json.loads(meta["record"])
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}
    if generator_weights is not None and record.get("generator_sha256") != weights_sha256(
            generator_weights):
        return {}
    network = _guided_network(Path(path).parent, record, generator)
    if network is None and any(i["kind"] == "guided" for i in record["directions"].values()):
        return {}
    return {name: build_direction(name, tensors[f"{name}.vector"], info, network, generator)
            for name, info in record["directions"].items()}


def _guided_network(folder: Path, record: dict, generator):
    """The guided edits' network named in ``record`` (on the generator's device), or None
    when the record names none or it was trained on other generator weights."""
    from .edit_network import load_network

    name = record.get("guided_network")
    if not name or not (folder / name).is_file():
        return None
    device = next(generator.parameters()).device if generator is not None else "cpu"
    network, info = load_network(folder / name, device)
    return network if info.get("generator_sha256") == record.get("generator_sha256") else None


def build_direction(name: str, vector: torch.Tensor, info: dict, network=None,
                    generator=None) -> FactorDirection:
    """A :class:`FactorDirection` from its vector and record entry; a guided one edits
    with ``network`` (:class:`dynode_shapes.guided.EditNetwork`), reading ``generator``'s
    renders."""
    from .guided import GuidedEdit

    amount, factor = float(info["amount"]), info["factor"]
    text = (f"{info['kind']} {factor}: strength 1.0 moves it {amount:g} {UNITS[factor]} on "
            f"average (measured {info.get('measured_mean', float('nan')):.3g} +/- "
            f"{info.get('measured_std', float('nan')):.2g})")
    guided = (GuidedEdit(network, generator, factor, amount) if info["kind"] == "guided"
              else None)
    return FactorDirection(name, vector.float(), text, float(info.get("scale", 1.0)), guided,
                           factor, amount)
