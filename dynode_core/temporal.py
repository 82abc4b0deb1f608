"""Temporal consistency of videos, measured the way the video-editing literature does.

**Warping error** (Lai et al., "Learning Blind Video Temporal Consistency", ECCV 2018):
the optical flow between consecutive frames of the INPUT, forward ``F_fw`` (t -> t+1) and
backward ``F_bw`` (OpenCV DIS, ``PRESET_MEDIUM``, on grayscale frames); a pixel is
occluded when the flows disagree,
``|F_fw + W(F_bw)|^2 > 0.01 (|F_fw|^2 + |W(F_bw)|^2) + 0.5`` (``W`` warps by ``F_fw``);
then for an output ``O`` (RGB in [0, 1]) the pair's error is the mean over the visible
pixels ``M`` and the three channels of ``(W(O_t+1) - O_t)^2``, and the video's error the
mean over pairs. The input's own value is the floor an output is compared with: the
measure rewards flat or frozen frames, so it is read beside a fidelity number (PSNR).

**TL-ID / TG-ID** (Tzaban et al., STIT, 2022): with unit identity embeddings ``E`` of the
face in each frame, ``R = (E_out E_out^T) / (E_in E_in^T)`` element-wise; TL-ID is the
mean of ``R`` over adjacent frames, TG-ID over every pair of distinct frames.

Everything here works on arrays; :mod:`dynode_core.run.temporal` reads the run's files.
"""

from __future__ import annotations

import numpy as np

#: The occlusion test's constants (Lai et al.): relative and absolute, in pixels squared.
OCCLUSION_RELATIVE = 0.01
OCCLUSION_ABSOLUTE = 0.5


def _cv2():
    from .alignment.warp import require_cv2

    return require_cv2()


def gray(frame: np.ndarray) -> np.ndarray:
    return _cv2().cvtColor(np.ascontiguousarray(frame), _cv2().COLOR_RGB2GRAY)


def warp_by(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """``image`` sampled at ``x + flow(x)`` (bilinear, edges replicated): the frame (or
    flow field) ``flow`` points to, brought back onto the frame it starts from."""
    cv2 = _cv2()
    height, width = flow.shape[:2]
    gx, gy = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    return cv2.remap(np.ascontiguousarray(image), gx + flow[..., 0], gy + flow[..., 1],
                     cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


class PairFlow:
    """Forward and backward DIS flow between two frames, and the visible-pixel mask."""

    def __init__(self) -> None:
        cv2 = _cv2()
        self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)

    def __call__(self, first: np.ndarray, second: np.ndarray):
        """(forward flow (H, W, 2), visible (H, W) bool) of RGB frames ``first`` -> ``second``."""
        a, b = gray(first), gray(second)
        forward = self._dis.calc(a, b, None)
        backward = self._dis.calc(b, a, None)
        return forward, visible(forward, backward)


def visible(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """The pixels that pass the forward-backward test (not occluded)."""
    back = warp_by(backward, forward)
    disagreement = np.square(forward + back).sum(-1)
    scale = np.square(forward).sum(-1) + np.square(back).sum(-1)
    return disagreement <= OCCLUSION_RELATIVE * scale + OCCLUSION_ABSOLUTE


def pair_error(current: np.ndarray, following: np.ndarray, forward: np.ndarray,
               mask: np.ndarray) -> float | None:
    """One pair's warping error: output frame t+1 warped back onto frame t by the input's
    ``forward`` flow, mean squared difference (RGB in [0, 1]) over ``mask``; None when
    the mask is empty."""
    count = int(mask.sum())
    if count == 0:
        return None
    back = warp_by(following.astype(np.float32) / 255.0, forward)
    diff = np.square(back - current.astype(np.float32) / 255.0).mean(-1)
    return float(diff[mask].astype(np.float64).sum() / count)


def box_mask(shape: tuple, box) -> np.ndarray:
    """A (H, W) bool mask of the pixels inside ``box`` (x0, y0, x1, y1 in pixel edges)."""
    mask = np.zeros(shape[:2], bool)
    height, width = shape[:2]
    x0, y0 = max(0, int(np.floor(box[0]))), max(0, int(np.floor(box[1])))
    x1, y1 = min(width, int(np.ceil(box[2]))), min(height, int(np.ceil(box[3])))
    mask[y0:y1, x0:x1] = True
    return mask


def landmark_boxes(landmarks: np.ndarray) -> np.ndarray:
    """(T, 4) boxes (x0, y0, x1, y1) around each frame's landmarks (T, K, 2); NaN rows
    where a frame has none."""
    boxes = np.full((len(landmarks), 4), np.nan)
    found = np.isfinite(landmarks).all(axis=(1, 2))
    if found.any():
        marks = landmarks[found]
        boxes[found] = np.concatenate([marks.min(1), marks.max(1)], axis=1)
    return boxes


def fill_boxes(boxes: np.ndarray) -> np.ndarray:
    """Missing boxes (NaN rows) interpolated from the nearest found ones (held at the ends)."""
    found = np.isfinite(boxes).all(axis=1)
    if not found.any():
        return boxes.copy()
    index = np.arange(len(boxes))
    return np.stack([np.interp(index, index[found], boxes[found, k]) for k in range(4)], axis=1)


def identity_ratios(inputs: np.ndarray, outputs: np.ndarray) -> dict:
    """TL-ID and TG-ID of unit embeddings (T, D) of the input's and the output's faces
    (rows of NaN: no face; such frames are left out of every pair)."""
    found = np.isfinite(inputs).all(1) & np.isfinite(outputs).all(1)
    index = np.flatnonzero(found)
    ratio = (outputs[index] @ outputs[index].T) / (inputs[index] @ inputs[index].T)
    adjacent = np.flatnonzero(np.diff(index) == 1)
    pairs = ~np.eye(len(index), dtype=bool)
    return {"tl_id": float(ratio[adjacent, adjacent + 1].mean()) if len(adjacent) else None,
            "tg_id": float(ratio[pairs].mean()) if pairs.any() else None}


def psnr(first: np.ndarray, second: np.ndarray) -> float:
    """PSNR (dB, peak 255) of two uint8 frames, capped at 100 dB for identical ones."""
    mse = float(np.square(first.astype(np.float64) - second.astype(np.float64)).mean())
    return 100.0 if mse <= 1e-10 else min(100.0, 10 * np.log10(255.0 ** 2 / mse))


def warping_error(reference: np.ndarray, video: np.ndarray, boxes=None) -> float | None:
    """The warping error of ``video`` (T, H, W, 3) uint8 with the flow of ``reference``
    (its input, the same shape): the mean over consecutive pairs; ``boxes`` (T, 4), when
    given, limit each pair to frame t's box. ``warping_error(x, x)`` is the input's floor."""
    flow, errors = PairFlow(), []
    for t in range(min(len(reference), len(video)) - 1):
        forward, mask = flow(reference[t], reference[t + 1])
        if boxes is not None:
            mask &= box_mask(mask.shape, boxes[t])
        errors.append(pair_error(video[t], video[t + 1], forward, mask))
    kept = [e for e in errors if e is not None]
    return float(np.mean(kept)) if kept else None
