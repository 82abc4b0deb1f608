"""Following a face through frames where the detector misses it: the median optical flow
(OpenCV DIS on shrunk grayscale frames) inside the face's last box moves the box from frame
to frame, and the FFHQ centre with it. Holding the last quad instead leaves the crop behind
while the head moves, and the pasted face then sits beside the real one (a double image).
"""

from __future__ import annotations

import numpy as np

#: Flow is measured on frames shrunk to at most this many pixels a side.
FLOW_SIDE = 160


class MotionTracker:
    """Fed every frame in order with the landmarks found in it (or None); returns, for a
    frame without landmarks, the face box's motion (dx, dy) since the previous frame."""

    def __init__(self) -> None:
        import cv2

        self.cv2 = cv2
        self.dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        self.previous = None
        self.box = None
        self.scale = 1.0

    def _small(self, frame: np.ndarray) -> np.ndarray:
        cv2 = self.cv2
        height, width = frame.shape[:2]
        self.scale = min(1.0, FLOW_SIDE / max(height, width))
        size = (max(8, round(width * self.scale)), max(8, round(height * self.scale)))
        return cv2.cvtColor(cv2.resize(frame, size, interpolation=cv2.INTER_AREA),
                            cv2.COLOR_RGB2GRAY)

    def step(self, frame: np.ndarray, marks: np.ndarray | None) -> np.ndarray | None:
        small = self._small(frame)
        motion = None
        if marks is not None:
            self.box = np.concatenate([marks.min(0), marks.max(0)])
        elif self.previous is not None and self.box is not None:
            motion = self._motion(self.previous, small)
            self.box = self.box + np.tile(motion, 2)
        self.previous = small
        return motion

    def _motion(self, previous: np.ndarray, current: np.ndarray) -> np.ndarray:
        flow = self.dis.calc(previous, current, None)
        height, width = flow.shape[:2]
        x0, y0, x1, y1 = np.round(self.box * self.scale).astype(int)
        x0, y0 = np.clip([x0, y0], 0, [width - 1, height - 1])
        x1, y1 = np.clip([x1, y1], [x0 + 1, y0 + 1], [width, height])
        inside = flow[y0:y1, x0:x1].reshape(-1, 2)
        return np.median(inside, axis=0).astype(np.float64) / self.scale


def track_gaps(centres: np.ndarray, motions: np.ndarray) -> np.ndarray:
    """Centres (T, 2) with NaN rows filled by following ``motions`` (T, 2; NaN where not
    measured) from the last found centre; a gap that ends in a found centre has its drift
    spread linearly over the gap so that it meets it. Rows not reachable this way (before
    the first found centre, or without a measured motion) stay NaN."""
    out = centres.copy()
    found = np.isfinite(centres).all(axis=1)
    index = 0
    while index < len(out):
        if found[index] or index == 0 or not np.isfinite(out[index - 1]).all():
            index += 1
            continue
        end = index
        while end < len(out) and not found[end] and np.isfinite(motions[end]).all():
            out[end] = out[end - 1] + motions[end]
            end += 1
        if end < len(out) and found[end] and end > index:
            drift = centres[end] - (out[end - 1] + np.nan_to_num(motions[end]))
            share = (np.arange(index, end) - index + 1) / (end - index + 1)
            out[index:end] += share[:, None] * drift
        index = max(end, index + 1)
    return out
