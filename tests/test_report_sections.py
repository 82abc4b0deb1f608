"""report.html's optional parts and its guards: the tuning section of a tuned run, a
generic temporal table, metrics checked against their schema (a wrong type is one line
naming the key), no world-only settings for a real input, and a reproduce line that
works from any directory. The tuned run's page is also opened in headless chromium."""

import json
import re
import shlex
import shutil

import pytest
import torch

from dynode_core.run import RunConfig, run_pipeline
from dynode_core.run.html import render_report
from dynode_core.trajectory import LatentTrajectory

from conftest import run_dynode

TUNED = dict(demo_frames=6, inversion_steps=1, dynamics="linear", interpolate=2,
             batch_size=4, device="cpu", tune="pti", tune_steps=5)
SMALL = ["--inversion-steps", "1", "--dynamics", "linear", "--interpolate", "2",
         "--device", "cpu", "--quiet"]


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    out = tmp_path_factory.mktemp("tuned") / "run"
    run_pipeline(RunConfig(out=str(out), **TUNED), progress=False)
    return out


def cells(html: str, attribute: str) -> dict:
    return dict(re.findall(rf'{attribute}="([^"]+)">([^<]*)<', html))


def test_a_tuned_run_shows_steps_seconds_curve_locality_and_delta(tuned):
    html = (tuned / "report.html").read_text()
    metrics = json.loads((tuned / "metrics.json").read_text())
    shown = cells(html, "data-tune")
    assert shown["steps"] == "5" and shown["name"] == "pti"
    assert float(shown["seconds"]) == pytest.approx(metrics["stages"]["tune"]["seconds"],
                                                    rel=1e-3)
    from safetensors import safe_open

    with safe_open(str(tuned / "tuned.safetensors"), framework="np") as handle:
        settings = json.loads(handle.metadata()["config"])["tuner"]
    assert float(shown["locality"]) == settings["locality"]
    assert 'href="tuned.safetensors"' in html
    curve = re.search(r'id="tune-curve".*?points="([^"]+)"', html, re.S).group(1)
    assert len(curve.split()) == len(metrics["tune"]["psnr_curve"]) == 5


def test_an_untuned_run_has_no_tuning_and_a_world_clip_shows_its_settings(tuned, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(tuned, copy)
    metrics = json.loads((copy / "metrics.json").read_text())
    del metrics["tune"]
    (copy / "metrics.json").write_text(json.dumps(metrics))
    html = render_report(copy)
    assert 'id="tuning"' not in html and 'id="temporal"' not in html
    assert "demo_motion" in html and "demo_frames" in html  # the run had no input


def test_temporal_metrics_show_as_a_table(tuned, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(tuned, copy)
    metrics = json.loads((copy / "metrics.json").read_text())
    metrics["temporal"] = {"input": {"warp_error": 0.0123},
                           "interpolated": {"warp_error": 0.0246, "ratio": 2.0}}
    (copy / "metrics.json").write_text(json.dumps(metrics))
    html = render_report(copy)
    table = html[html.index('id="temporal-table"'):html.index("</table>", html.index(
        'id="temporal-table"'))]
    assert "<th>warp_error</th><th>ratio</th>" in table
    assert re.search(r"interpolated</th><td[^>]*>0.0246</td><td[^>]*>2</td>", table), table


@pytest.mark.parametrize("key, value, named", [
    ("reconstruction_psnr", "high", "reconstruction_psnr must be a number, got 'high'"),
    ("stages", {"read": {"seconds": "1"}}, "stages.read.seconds must be a number"),
    ("tune", {"psnr_curve": [1.0, None]}, "tune.psnr_curve[1] must be a number"),
    ("temporal", [1, 2], "temporal must be an object"),
    ("frames", 6.5, "frames must be an integer"),
])
def test_a_wrong_type_in_metrics_is_one_line_naming_the_key(tuned, tmp_path, key, value, named):
    copy = tmp_path / "copy"
    shutil.copytree(tuned, copy)
    (copy / "report.html").unlink()
    metrics = json.loads((copy / "metrics.json").read_text())
    metrics[key] = value
    (copy / "metrics.json").write_text(json.dumps(metrics))
    proc = run_dynode("report", str(copy))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and named in lines[0] and "Traceback" not in proc.stderr, lines
    assert not (copy / "report.html").exists()


def test_a_real_input_shows_no_world_settings_and_reproduces_from_anywhere(tuned, tmp_path):
    start, elsewhere = tmp_path / "start", tmp_path / "elsewhere"
    start.mkdir(), elsewhere.mkdir()
    shutil.copy(tuned / "input.mp4", start / "clip.mp4")
    proc = run_dynode("run", "clip.mp4", "--out", "runs/real", *SMALL, cwd=start)
    assert proc.returncode == 0, proc.stderr
    folder = start / "runs" / "real"
    html = (folder / "report.html").read_text()
    config = html[html.index("<h2>Config</h2>"):html.index("<h2>Versions</h2>")]
    assert "clip.mp4" in config
    assert "demo_motion" not in config and "demo_frames" not in config
    command = re.search(r'id="reproduce-command">([^<]+)<', html).group(1)
    note = re.search(r'id="reproduce-note">([^<]+)<', html).group(1)
    args = shlex.split(command.replace("&#39;", "'"))
    assert args[:3] == ["dynode", "run", str(start / "clip.mp4")]
    assert "absolute" in note and "any directory" in note
    proc = run_dynode(*args[1:], "--quiet", cwd=elsewhere)  # another working directory
    assert proc.returncode == 0, proc.stderr
    again = start / "runs" / "real-again"
    mine, theirs = (LatentTrajectory.load(f / "latents.safetensors") for f in (folder, again))
    assert torch.equal(mine.latents, theirs.latents)


IMAGES = """return Array.from(document.images).map(i => ({src: i.getAttribute('src'),
    complete: i.complete, width: i.naturalWidth}));"""
READY = """return Array.from(document.querySelectorAll('video')).map(v => ({
    src: v.dataset.file, ready: v.readyState, error: v.error && v.error.code}));"""


def test_the_tuned_report_in_chromium_loads_every_image_and_video(tuned):
    from browser import chromium, require_chromium, serve

    require_chromium()
    from selenium.webdriver.support.ui import WebDriverWait

    with serve(tuned) as url, chromium() as driver:
        driver.get(url + "report.html")
        wait = WebDriverWait(driver, 30, poll_frequency=0.05)
        wait.until(lambda d: all(v["ready"] == 4 or v["error"] for v in d.execute_script(READY)))
        wait.until(lambda d: all(i["complete"] for i in d.execute_script(IMAGES)))
        videos, images = driver.execute_script(READY), driver.execute_script(IMAGES)
        assert {v["src"] for v in videos} >= {"input.mp4", "reconstruction.mp4",
                                              "interpolated.mp4"}
        assert all(v["ready"] == 4 and v["error"] is None for v in videos), videos
        assert [i["src"] for i in images] == ["trajectory.png", "contact_sheet.png"]
        assert all(i["width"] > 0 for i in images), images
        assert driver.find_element("id", "tune-curve").is_displayed()
        severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert not severe, severe
