"""report.html in a real headless browser (Debian's chromium through selenium): the videos
load and play in sync under one control, the numbers are the run's, no console errors.
Skips in one line where /usr/bin/chromium or /usr/bin/chromedriver is absent."""

import json

import numpy as np
import pytest

from dynode_core.run import RunConfig, run_pipeline

from browser import chromium, full_page_screenshot, require_chromium, serve

SMALL = dict(demo_frames=6, inversion_steps=2, dynamics="linear", interpolate=4,
             batch_size=4, device="cpu", edits=["sefa:0:2", "sefa:1:-2"])
WAIT = 30  # seconds the browser may take to load or seek; never a timing assertion

VIDEO_STATE = """return Array.from(document.querySelectorAll('video')).map(v => ({
    src: v.dataset.file, ready: v.readyState, duration: v.duration,
    seekable: v.seekable.length ? v.seekable.end(v.seekable.length - 1) : 0,
    time: v.currentTime, paused: v.paused, rate: v.playbackRate, seeking: v.seeking,
    error: v.error && v.error.code}));"""


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """The report of a small run with two edits, open in chromium; yields (driver, folder)."""
    require_chromium()
    out = tmp_path_factory.mktemp("browser") / "run"
    run_pipeline(RunConfig(out=str(out), **SMALL), progress=False)
    with serve(out) as url, chromium() as driver:
        driver.get(url + "report.html")
        _wait(driver, lambda d: all(v["ready"] >= 2 and v["seekable"] > 0 for v in _videos(d)))
        yield driver, out, url


def _videos(driver) -> list[dict]:
    return driver.execute_script(VIDEO_STATE)


def _wait(driver, condition):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT, poll_frequency=0.05).until(condition)


def _shared_time(driver) -> float:
    return float(driver.find_element("id", "scrub").get_attribute("value"))


def test_every_video_loads_with_its_own_duration(page):
    from dynode_core.video import probe_video

    driver, folder, _ = page
    videos = _videos(driver)
    assert [v["src"] for v in videos] == [
        "input.mp4", "reconstruction.mp4", "interpolated.mp4", "edited_sefa-0-2.mp4",
        "edited_sefa-1--2.mp4"]
    for video in videos:
        info = probe_video(folder / video["src"])
        assert video["error"] is None and video["ready"] >= 2, video
        assert video["duration"] == pytest.approx(info.frames / info.fps, abs=0.5 / info.fps)
    by_name = {v["src"]: v["duration"] for v in videos}
    input_fps = probe_video(folder / "input.mp4").fps
    # the x4 video has 4x the frames at 4x the rate: it spans the input's time
    assert abs(by_name["interpolated.mp4"] - by_name["input.mp4"]) < 1 / input_fps


def test_no_console_errors_and_no_request_leaves_the_folder(page):
    driver, _, url = page
    severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not severe, severe
    requested = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)")
    assert requested and all(name.startswith(url) for name in requested), requested


def test_scrubbing_moves_every_video_to_the_same_time(page):
    from selenium.webdriver.common.action_chains import ActionChains

    driver, _, _ = page
    scrub = driver.find_element("id", "scrub")
    for fraction in (0.7, 0.25):  # a real click on the slider, at two places
        before = _shared_time(driver)
        offset = int(scrub.size["width"] * (fraction - 0.5))
        ActionChains(driver).move_to_element_with_offset(scrub, offset, 0).click().perform()
        _wait(driver, lambda d: _shared_time(d) != before)
        shared = _shared_time(driver)
        assert 0 < shared < max(v["duration"] for v in _videos(driver))
        _wait(driver, lambda d: not any(v["seeking"] for v in _videos(d)))
        for video in _videos(driver):
            assert video["time"] == pytest.approx(min(shared, video["duration"]), abs=1e-3), video
        assert f"{shared:.2f} /" in driver.find_element("id", "clock").text


def test_play_speed_and_pause_keep_the_videos_together(page):
    from selenium.webdriver.support.ui import Select

    driver, _, _ = page
    Select(driver.find_element("id", "speed")).select_by_value("0.5")
    button = driver.find_element("id", "play")
    start = _shared_time(driver)
    button.click()
    assert button.text == "Pause"
    _wait(driver, lambda d: _shared_time(d) != start)  # the shared clock runs
    assert all(v["rate"] == 0.5 for v in _videos(driver))
    button.click()
    assert button.text == "Play"
    shared = _shared_time(driver)
    _wait(driver, lambda d: not any(v["seeking"] for v in _videos(d)))
    for video in _videos(driver):
        assert video["paused"], video
        assert video["time"] == pytest.approx(min(shared, video["duration"]), abs=1e-3), video


def test_metrics_table_shows_the_runs_numbers(page):
    driver, folder, _ = page
    metrics = json.loads((folder / "metrics.json").read_text())
    cells = {c.get_attribute("data-metric"): c.text
             for c in driver.find_elements("css selector", "#metrics-table td[data-metric]")}
    assert {"reconstruction_psnr", "reconstruction_ssim", "frames", "total_seconds",
            "peak_rss_mb"} <= set(cells)
    for key, text in cells.items():
        if isinstance(metrics[key], (int, float)) and not isinstance(metrics[key], bool):
            assert float(text) == pytest.approx(metrics[key], rel=1e-3), key
        else:  # text (the device), or no value (a baseline's fit loss)
            assert text == ("-" if metrics[key] is None else str(metrics[key])), key
    stages = {c.get_attribute("data-stage"): float(c.text)
              for c in driver.find_elements("css selector", "#stages-table td[data-stage]")}
    assert stages == pytest.approx({k: v["seconds"] for k, v in metrics["stages"].items()},
                                   rel=1e-3, abs=1e-9)
    polylines = driver.find_elements("css selector", "svg.plot polyline")
    assert [len(p.get_attribute("points").split()) for p in polylines] == [6, 6]


def test_screenshot_of_the_page_is_saved(page, tmp_path):
    from PIL import Image

    driver, _, _ = page
    path = full_page_screenshot(driver, tmp_path / "report.png")
    image = np.asarray(Image.open(path).convert("RGB"))
    assert image.shape[1] >= 1200 and image.shape[0] > 1200  # the whole page, not a viewport
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 1000  # videos and plots drawn
