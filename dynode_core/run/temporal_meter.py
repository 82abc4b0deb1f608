"""The ``temporal`` stage's accumulator: one view (whole frames or crops), every output
beside the input, frame by frame, and the section of ``metrics.json`` it adds up to."""

from __future__ import annotations

import numpy as np

INPUT = "input"
#: Outputs whose identity is not measured: the interpolated path at input times is the
#: fitted path through the reconstruction's codes (each face costs ~80 ms).
NO_IDENTITY = ("interpolated",)


def _mean(values) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def _ratio(value, floor) -> float | None:
    return None if value is None or not floor else value / floor


class ViewMeter:
    """Warping error (whole view and face box), PSNR against the input and identity
    embeddings of the input and each named output, fed one time step at a time."""

    def __init__(self, names: list[str], *, landmarks=None, embed=None) -> None:
        from ..temporal import PairFlow, fill_boxes, landmark_boxes

        self.names = [INPUT, *names]
        self.flow = PairFlow()
        self.landmarks, self.embed = landmarks, embed
        self.boxes = None if landmarks is None else fill_boxes(landmark_boxes(landmarks))
        if self.boxes is not None and not np.isfinite(self.boxes).all():
            self.boxes = None
        self.errors = {n: [] for n in self.names}
        self.face_errors = {n: [] for n in self.names}
        self.psnr = {n: [] for n in names}
        self.embeddings = {n: [] for n in self.names if n not in NO_IDENTITY}
        self.identity_error: str | None = None
        self.previous: dict | None = None
        self.index = 0

    def add(self, reference: np.ndarray, outputs: dict) -> None:
        from ..temporal import box_mask, pair_error, psnr

        frames = {INPUT: reference, **outputs}
        for name, frame in outputs.items():
            if frame.shape == reference.shape:
                self.psnr[name].append(psnr(frame, reference))
        if self.previous is not None:
            forward, mask = self.flow(self.previous[INPUT], reference)
            face = None if self.boxes is None else mask & box_mask(mask.shape,
                                                                   self.boxes[self.index - 1])
            for name in self.names:
                if frames[name].shape != reference.shape:
                    continue
                self.errors[name].append(pair_error(self.previous[name], frames[name],
                                                    forward, mask))
                if face is not None:
                    self.face_errors[name].append(pair_error(self.previous[name],
                                                             frames[name], forward, face))
        if self.embed is not None and self.index < len(self.landmarks):
            self._embed(frames)
        self.previous = frames
        self.index += 1

    def _embed(self, frames: dict) -> None:
        from ..errors import DynodeError

        try:
            for name in self.embeddings:
                self.embeddings[name].append(self.embed(frames[name], self.landmarks[self.index]))
        except DynodeError as exc:  # the model file missing: no identity, and why
            self.embed, self.identity_error = None, str(exc)

    def result(self) -> dict:
        """Per name: warping error (and its ratio to the input's), the face box's, PSNR
        against the input, TL-ID and TG-ID (None where not measured)."""
        from ..temporal import identity_ratios

        floor, face_floor = _mean(self.errors[INPUT]), _mean(self.face_errors[INPUT])
        found = {}
        for name in self.names:
            error, face = _mean(self.errors[name]), _mean(self.face_errors[name])
            row = {"warping_error": error, "face_warping_error": face}
            if name != INPUT:
                row.update({"warping_error_ratio": _ratio(error, floor),
                            "face_warping_error_ratio": _ratio(face, face_floor),
                            "psnr": _mean(self.psnr[name])})
                identity = {"tl_id": None, "tg_id": None}
                if self.embed is not None and self.embeddings.get(name):
                    identity = identity_ratios(np.stack(self.embeddings[INPUT]),
                                               np.stack(self.embeddings[name]))
                row.update(identity)
            found[name] = row
        return found


def _rounded(value):
    return None if value is None else float(f"{value:.6g}")


def assemble(*, limit: int, frame: dict, aligned: dict | None, offset: dict,
             face_share: float, identity_reason: str | None, faces_file: str) -> dict:
    """``metrics.json``'s ``temporal`` section: a few plain keys, then one table per
    video (``input`` first) of plain numbers or None."""
    section = {"frames": limit,
               "flow": "OpenCV DIS (medium) between consecutive input frames, grayscale",
               "face_found_share": round(face_share, 4),
               "identity": identity_reason or "dlib face-recognition ResNet (128-D)",
               "face_boxes": faces_file if face_share > 0 else None}
    for name, row in frame.items():
        row = dict(row)
        if aligned is not None:
            row["aligned_warping_error"] = aligned[name]["warping_error"]
            if name != INPUT:
                row["aligned_warping_error_ratio"] = aligned[name]["warping_error_ratio"]
        if name.startswith("edited_"):
            row["psnr_vs_offset"] = offset.get(name)
        section[name] = {key: _rounded(value) for key, value in row.items()}
    return section
