"""Image warps for aligned crops, all through OpenCV (``opencv-python-headless``, part of
the ``faces`` extra): frames -> crops, crops pasted back into their frames
under a narrowly feathered face-shaped mask with their colours matched at the seam, and
in-between backgrounds from dense optical flow (DIS).
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError

EXTRA = 'pip install -e ".[faces]" (in the dynode source checkout)'
#: Optical flow is computed on frames shrunk to at most this many pixels a side.
FLOW_MAX_SIDE = 320


def require_cv2():
    """``cv2``, or one line naming the extra that provides it."""
    try:
        import cv2
    except ImportError:
        raise InputError(f"aligned crops and paste-back need OpenCV: {EXTRA}") from None
    return cv2


def _shrink(frame: np.ndarray, matrix: np.ndarray, scale: float):
    """Shrink ``frame`` by ``scale`` (area averaging, no aliasing) and adapt ``matrix``."""
    cv2 = require_cv2()
    h, w = frame.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
    sx, sy = size[0] / w, size[1] / h
    # x_c = (x_small_c + 0.5) / s - 0.5
    back = np.array([[1 / sx, 0, 0.5 / sx - 0.5], [0, 1 / sy, 0.5 / sy - 0.5], [0, 0, 1]])
    return small, matrix @ back


def warp_crop(frame: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """The (size, size, 3) crop of ``frame`` under the frame -> crop ``matrix``; edges
    beyond the frame are mirrored. A crop smaller than its quad is taken from an
    area-shrunk frame, so it does not alias."""
    cv2 = require_cv2()
    matrix = np.asarray(matrix, dtype=np.float64)
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    if scale < 0.9:
        frame, matrix = _shrink(frame, matrix, scale)
    return cv2.warpAffine(np.ascontiguousarray(frame), matrix, (size, size),
                          flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)


def warp_mask(mask: np.ndarray, crop_map: np.ndarray) -> np.ndarray:
    """A crop-space mask moved by a crop -> crop map (3, 3 or 2, 3; pixel centres) into
    the other crop (0 where it comes from outside)."""
    cv2 = require_cv2()
    size = mask.shape[0]
    return cv2.warpAffine(np.ascontiguousarray(mask, np.float32),
                          np.asarray(crop_map, np.float64)[:2], (size, size),
                          flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=0.0)


def warp_crops(frames: np.ndarray, matrices: np.ndarray, size: int) -> np.ndarray:
    """(N, size, size, 3) uint8 crops of (N, H, W, 3) frames, one matrix each."""
    return np.stack([warp_crop(f, m, size) for f, m in zip(frames, matrices)])


#: The paste-back mask: the hull of the face's outline (jaw and brows of the 68 landmarks)
#: grown by GROW and feathered by a Gaussian of FEATHER (fractions of the crop's side).
GROW = 0.02
FEATHER = 0.012
#: The 68-point model's outline: jaw (0-16) and brows (17-26).
OUTLINE = slice(0, 27)
#: Colour matching at the seam: the band just inside the mask's edge (BAND of the crop's
#: side), its colour difference spread over the mask by a Gaussian of SPREAD, computed on
#: the crop shrunk to MATCH_SIDE pixels.
BAND = 0.06
SPREAD = 0.15
MATCH_SIDE = 64


def crop_mask(size: int, points: np.ndarray | None = None) -> np.ndarray:
    """A feathered (size, size) float32 mask in crop coordinates: the convex hull of
    ``points`` (landmarks in crop pixels; of 68 points, the jaw and brows), grown a little
    and feathered narrowly, or without points the crop itself; always fading to 0 before
    the crop's edge."""
    cv2 = require_cv2()
    feather = max(0.6, size * FEATHER)
    edge = np.zeros((size, size), np.float32)
    inset = int(round(max(1.0, size * 0.03) * 2.5))
    edge[inset:size - inset, inset:size - inset] = 1.0
    edge = cv2.GaussianBlur(edge, (0, 0), max(1.0, size * 0.03))
    if points is None or not np.isfinite(points).all():
        return edge
    points = np.asarray(points)
    if len(points) == 68:
        points = points[OUTLINE]
    hull = np.zeros((size, size), np.uint8)
    cv2.fillConvexPoly(hull, cv2.convexHull(np.round(points).astype(np.int32)), 255)
    grow = max(1, int(round(size * GROW)))
    hull = cv2.dilate(hull, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1,) * 2))
    soft = cv2.GaussianBlur(hull.astype(np.float32) / 255.0, (0, 0), feather)
    return np.minimum(soft, edge)


def paste_mask(alignment) -> np.ndarray:
    """The crop-space mask an alignment's outputs are pasted back under: the hull of the
    face outline's mean position in the crop (grown a little, feathered narrowly) for
    faces, the crop itself otherwise."""
    marks = alignment.landmarks
    if marks is None:
        return crop_mask(alignment.size)
    found = np.isfinite(marks).all(axis=(1, 2))
    if not found.any():
        return crop_mask(alignment.size)
    matrices = alignment.matrices()[found]
    points = marks[found] - 0.5  # edge -> pixel-centre coordinates
    crop_points = np.einsum("tij,tkj->tki", matrices[:, :, :2], points) + matrices[:, None, :, 2]
    return crop_mask(alignment.size, crop_points.mean(axis=0))


def seam_matched(crop: np.ndarray, under: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``crop`` with its colours shifted to meet ``under`` (the input's crop, at any size)
    at the mask's edge: the difference measured in a band just inside the edge, spread
    smoothly over the crop (a normalised Gaussian), so the seam vanishes and the inside
    keeps its detail."""
    cv2 = require_cv2()
    size = crop.shape[0]
    side = min(size, MATCH_SIDE)
    small = (side, side)
    inside = (cv2.resize(mask, small, interpolation=cv2.INTER_AREA) >= 0.5).astype(np.uint8)
    width = max(1, int(round(side * BAND)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * width + 1,) * 2)
    band = (inside & (1 - cv2.erode(inside, kernel))).astype(np.float32)
    if band.sum() < 1:
        return crop
    diff = (cv2.resize(under, small, interpolation=cv2.INTER_AREA).astype(np.float32)
            - cv2.resize(crop, small, interpolation=cv2.INTER_AREA).astype(np.float32))
    spread = max(1.0, side * SPREAD)
    weight = cv2.GaussianBlur(band, (0, 0), spread)[..., None]
    shift = cv2.GaussianBlur(diff * band[..., None], (0, 0), spread) / np.maximum(weight, 1e-6)
    shift = cv2.resize(shift, (size, size), interpolation=cv2.INTER_LINEAR)
    return np.clip(np.rint(crop.astype(np.float32) + shift), 0, 255).astype(np.uint8)


def _bbox(matrix: np.ndarray, size: int, width: int, height: int):
    """The frame rectangle (x0, y0, x1, y1) the crop square covers, clipped."""
    full = np.vstack([matrix, [0, 0, 1]])
    inv = np.linalg.inv(full)[:2]
    corners = np.array([[-0.5, -0.5, 1], [size, -0.5, 1], [-0.5, size, 1], [size, size, 1]])
    pts = corners @ inv.T
    x0, y0 = np.floor(pts.min(0)).astype(int)
    x1, y1 = np.ceil(pts.max(0)).astype(int) + 1
    return max(0, x0), max(0, y0), min(width, x1), min(height, y1)


def paste(frame: np.ndarray, crop: np.ndarray, matrix: np.ndarray,
          mask: np.ndarray, match: bool = True) -> np.ndarray:
    """``crop`` warped back into ``frame`` by the inverse of ``matrix`` and blended under
    ``mask`` (crop coordinates); pixels where the mask is 0 are ``frame``'s exactly. With
    ``match``, the crop's colours are first matched to the frame's at the mask's edge
    (:func:`seam_matched`)."""
    cv2 = require_cv2()
    height, width = frame.shape[:2]
    size = crop.shape[0]
    if match:  # the input's crop is needed only at the matching's own size
        side = min(size, MATCH_SIDE)
        k = side / size
        shrink = np.array([[k, 0, 0.5 * k - 0.5], [0, k, 0.5 * k - 0.5], [0, 0, 1]])
        small = (shrink @ np.vstack([np.asarray(matrix, np.float64), [0, 0, 1]]))[:2]
        crop = seam_matched(crop, warp_crop(frame, small, side), mask)
    x0, y0, x1, y1 = _bbox(np.asarray(matrix, np.float64), size, width, height)
    out = frame.copy()
    if x1 <= x0 or y1 <= y0:
        return out
    local = np.asarray(matrix, np.float64).copy()
    local[:, 2] += local[:, :2] @ np.array([x0, y0], np.float64)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    box = (x1 - x0, y1 - y0)
    warped = cv2.warpAffine(crop, local, box, flags=flags, borderMode=cv2.BORDER_REPLICATE)
    alpha = cv2.warpAffine(mask, local, box, flags=flags, borderMode=cv2.BORDER_CONSTANT,
                           borderValue=0.0)[..., None]
    region = frame[y0:y1, x0:x1].astype(np.float32)
    blended = region + alpha * (warped.astype(np.float32) - region)
    out[y0:y1, x0:x1] = np.where(alpha > 0, np.clip(np.rint(blended), 0, 255), region
                                 ).astype(np.uint8)
    return out


def flow_between(a: np.ndarray, b: np.ndarray, w: float) -> np.ndarray:
    """The frame at fraction ``w`` between frames ``a`` and ``b``: the nearer of the two
    warped along their dense optical flow (OpenCV DIS, computed on shrunk frames). One
    frame, never a cross-fade of both: where the flow is wrong (a jump, an occlusion) the
    result is displaced a little instead of showing a double image."""
    cv2 = require_cv2()
    if w <= 0:
        return a
    if w >= 1:
        return b
    height, width = a.shape[:2]
    scale = min(1.0, FLOW_MAX_SIDE / max(height, width))
    small = (max(8, round(width * scale)), max(8, round(height * scale)))
    gray = [cv2.cvtColor(cv2.resize(x, small, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
            for x in (a, b)]
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    flow = dis.calc(gray[0], gray[1], None)
    flow = cv2.resize(flow, (width, height), interpolation=cv2.INTER_LINEAR)
    flow[..., 0] *= width / small[0]
    flow[..., 1] *= height / small[1]
    gx, gy = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    source, step = (a, -w) if w <= 0.5 else (b, 1 - w)
    return cv2.remap(source, gx + step * flow[..., 0], gy + step * flow[..., 1],
                     cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
