"""The :class:`Alignment` value type: one crop quad per frame, its status, and its file.

A crop is a quad in the frame's continuous pixel coordinates (pixel edges at integers,
pixel ``i`` covering ``[i, i + 1)``), corners in the order top-left, bottom-left,
bottom-right, top-right *of the crop*. The crop maps the quad onto a square of
``size`` pixels; :meth:`Alignment.matrices` gives that map as 2x3 affine matrices in
OpenCV's pixel-centre convention (frame pixel -> crop pixel), ready for
``cv2.warpAffine``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError

FORMAT = "dynode.alignment/1"
#: Per-frame statuses: found by the aligner, filled from neighbours, fixed by construction.
STATUSES = ("detected", "filled", "fixed")


def quad_matrix(quad: np.ndarray, size: int) -> np.ndarray:
    """The 2x3 affine map (pixel centres) taking ``quad`` (4, 2) onto a ``size`` square."""
    src = np.asarray(quad, dtype=np.float64)[:3]
    dst = np.array([[0.0, 0.0], [0.0, size], [size, size]])
    # solve dst = A @ src + b in edge coordinates
    design = np.hstack([src, np.ones((3, 1))])
    ab = np.linalg.solve(design, dst).T  # (2, 3)
    a, b = ab[:, :2], ab[:, 2]
    # pixel centres: x_c' = A (x_c + 0.5) + b - 0.5
    return np.hstack([a, (b + a @ np.array([0.5, 0.5]) - 0.5)[:, None]])


def rect_quad(x: float, y: float, w: float, h: float) -> np.ndarray:
    """The quad of an axis-aligned rectangle."""
    return np.array([[x, y], [x, y + h], [x + w, y + h], [x + w, y]], dtype=np.float64)


@dataclass
class Alignment:
    """Per-frame crops of one clip.

    ``quads`` (T, 4, 2): the crops used (smoothed, gaps filled); ``raw`` (T, 4, 2): as
    found, NaN where nothing was found; ``status`` (T,) strings from :data:`STATUSES`;
    ``size``: the crop's side in pixels; ``frame_size``: (width, height) of the frames;
    ``landmarks`` (T, K, 2) or None: the points the quads came from (NaN where missing);
    ``aligner``: its name; ``crop_mode``: a :func:`~dynode_core.inversion.frames.to_generator_input`
    crop mode that gives the same crops (then no warp is needed), or None.
    """

    quads: np.ndarray
    raw: np.ndarray
    status: list
    size: int
    frame_size: tuple
    aligner: str = ""
    landmarks: np.ndarray | None = None
    crop_mode: str | None = None
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.quads)

    def matrices(self, quads: np.ndarray | None = None) -> np.ndarray:
        """(T, 2, 3) frame -> crop maps (pixel centres) of ``quads`` (default: the used ones)."""
        quads = self.quads if quads is None else quads
        return np.stack([quad_matrix(q, self.size) for q in quads])

    def quads_at(self, positions) -> np.ndarray:
        """Quads at fractional frame positions (linear between neighbouring frames)."""
        pos = np.clip(np.asarray(positions, dtype=np.float64), 0, len(self) - 1)
        low = np.floor(pos).astype(int)
        high = np.minimum(low + 1, len(self) - 1)
        w = (pos - low)[:, None, None]
        return self.quads[low] * (1 - w) + self.quads[high] * w

    def counts(self) -> dict:
        return {s: int(sum(1 for v in self.status if v == s)) for s in STATUSES}

    def save(self, folder) -> Path:
        """``alignment.safetensors`` (quads, raw, matrices, landmarks) and
        ``alignment.json`` (statuses and settings) in ``folder``; atomic."""
        import torch

        from ..io import atomic_write_text, write_safetensors

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        tensors = {"quads": self.quads, "raw": self.raw, "matrices": self.matrices()}
        if self.landmarks is not None:
            tensors["landmarks"] = self.landmarks
        write_safetensors(folder / "alignment.safetensors",
                          {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float64))
                           for k, v in tensors.items()}, fmt=FORMAT)
        doc = {"format": FORMAT, "aligner": self.aligner, "size": self.size,
               "frame_size": list(self.frame_size), "crop_mode": self.crop_mode,
               "counts": self.counts(), "status": list(self.status), "meta": self.meta}
        atomic_write_text(folder / "alignment.json", json.dumps(doc, indent=1))
        return folder / "alignment.json"

    @classmethod
    def load(cls, folder) -> "Alignment":
        from ..io import read_safetensors

        folder = Path(folder)
        try:
            doc = json.loads((folder / "alignment.json").read_text())
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read {folder / 'alignment.json'}: {exc}") from None
        if doc.get("format") != FORMAT:
            raise InputError(f"{folder / 'alignment.json'}: format {doc.get('format')!r} is "
                             f"not {FORMAT!r}")
        tensors = read_safetensors(folder / "alignment.safetensors")[0]
        marks = tensors.get("landmarks")
        return cls(tensors["quads"].numpy(), tensors["raw"].numpy(), doc["status"],
                   int(doc["size"]), tuple(doc["frame_size"]), doc.get("aligner", ""),
                   None if marks is None else marks.numpy(), doc.get("crop_mode"),
                   doc.get("meta", {}))
