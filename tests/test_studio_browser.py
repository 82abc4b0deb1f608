"""``dynode studio`` in a real headless browser (Debian's chromium through selenium): the
page loads a fresh small run, a strength slider moved with the keyboard changes the
preview's pixels, Render writes the edit and lists it playable, and a traversal URL and
a foreign Host are refused. Skips in one line where chromium or its driver is absent.

``STUDIO_SCREENSHOT=PATH`` also saves a screenshot of the page there (the README's
picture: ``docs/images/studio.png``)."""

import http.client
import os
import threading

import pytest

from dynode_core.run import RunConfig, run_pipeline
from dynode_core.studio import StudioServer

from browser import chromium, full_page_screenshot, require_chromium

SMALL = dict(demo_frames=6, inversion_steps=1, dynamics="linear", interpolate=2, batch_size=4,
             device="cpu", edits=["sefa:0:1"])
WAIT = 60  # seconds the page may take to show a preview or finish a render; a bound only

PIXELS = """const img = document.getElementById('preview');
if (!img.complete || !img.naturalWidth) return null;
const canvas = document.createElement('canvas');
canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
const context = canvas.getContext('2d');
context.drawImage(img, 0, 0);
return [img.dataset.version, Array.from(context.getImageData(0, 0, canvas.width, canvas.height).data)];"""

VIDEOS = """return Array.from(document.querySelectorAll('#videos video')).map(v => ({
    file: v.dataset.file, ready: v.readyState, error: v.error && v.error.code}));"""


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """The studio on a fresh small run, open in chromium; yields (driver, server, folder)."""
    require_chromium()
    out = tmp_path_factory.mktemp("studio-browser") / "run"
    run_pipeline(RunConfig(out=str(out), **SMALL), progress=False)
    server = StudioServer(out)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with chromium(1200, 640) as driver:
            driver.get(server.url)
            _wait(driver, lambda d: d.execute_script(PIXELS) is not None)
            yield driver, server, out
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _wait(driver, condition):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT, poll_frequency=0.1).until(condition)


def _fresh(page):
    """The page loaded anew, so each test starts from the same state in any order."""
    driver, server, folder = page
    driver.get_log("browser")  # read (and so cleared): errors an earlier test caused on purpose
    driver.get(server.url)
    _wait(driver, lambda d: d.execute_script(PIXELS) is not None)
    return driver, server, folder


def test_moving_a_strength_slider_changes_the_preview(page):
    from selenium.webdriver.common.keys import Keys

    driver, _, _ = _fresh(page)
    version, before = driver.execute_script(PIXELS)
    slider = driver.find_element("css selector", "#chosen input.strength")
    assert slider.get_attribute("value") == "1"
    for _ in range(20):  # +2.0 in steps of 0.1, as a user would with the arrow keys
        slider.send_keys(Keys.ARROW_RIGHT)
    assert float(slider.get_attribute("value")) == pytest.approx(3.0)
    box = driver.find_element("css selector", "#chosen input.strength-box")
    assert float(box.get_attribute("value")) == pytest.approx(3.0)

    def changed(d):
        shown = d.execute_script(PIXELS)
        return shown if shown and shown[0] != version and shown[1] != before else None

    _, after = _wait(driver, changed)
    differing = sum(a != b for a, b in zip(before, after))
    assert differing > len(before) // 20, differing
    assert "ms per frame" in driver.find_element("id", "timing").text
    assert driver.find_element("id", "error").text == ""


def test_render_lists_the_new_video_playable_and_a_second_render_is_one_line(page):
    from selenium.webdriver.common.keys import Keys

    driver, _, folder = _fresh(page)
    slider = driver.find_element("css selector", "#chosen input.strength")
    for _ in range(20):  # strength 3, the edit this test renders
        slider.send_keys(Keys.ARROW_RIGHT)
    driver.find_element("id", "render").click()

    def listed(d):
        videos = {v["file"]: v for v in d.execute_script(VIDEOS)}
        video = videos.get("edited_sefa-0-3.mp4")
        return video if video and video["ready"] == 4 else None

    video = _wait(driver, listed)
    assert video["error"] is None
    assert (folder / "edited_sefa-0-3.mp4").is_file()
    assert "wrote edited_sefa-0-3.mp4" in driver.find_element("id", "job-status").text
    severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not severe, severe
    shot = os.environ.get("STUDIO_SCREENSHOT")
    if shot:
        driver.find_element("id", "search").send_keys("sefa")
        full_page_screenshot(driver, shot, width=1200)
    driver.find_element("id", "render").click()  # the same edit again
    status = _wait(driver, lambda d: "already" in d.find_element("id", "job-status").text
                   and d.find_element("id", "job-status").text)
    assert "edited_sefa-0-3.mp4" in status and "\n" not in status


def test_the_timeline_moves_the_input_and_reconstruction_together(page):
    from selenium.webdriver.common.keys import Keys

    driver, _, _ = _fresh(page)
    scrub = driver.find_element("id", "scrub")
    scrub.send_keys(Keys.END)
    assert scrub.get_attribute("value") == scrub.get_attribute("max") == "10"  # 6 frames, x2
    times = """return ['input', 'reconstruction'].map(id => {
        const v = document.getElementById(id); return [v.currentTime, v.seeking]; });"""
    settled = _wait(driver, lambda d: (lambda t: t if all(not s and c > 0.2 for c, s in t)
                                       else None)(d.execute_script(times)))
    assert settled[0][0] == pytest.approx(settled[1][0])
    assert "frame 5.00 / 5" in driver.find_element("id", "position").text


def test_a_traversal_url_and_a_foreign_host_are_refused(page):
    driver, server, _ = page
    for path in ("files/run/..%2f..%2fconfig.toml", "files/run/%2e%2e/%2e%2e/etc/passwd",
                 "static/..%2fserver.py"):
        driver.get(server.url + path)
        text = driver.find_element("tag name", "body").text
        assert "not found" in text and "root:" not in text and "[run]" not in text, path
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.request("GET", f"/{server.token}/api/state",
                       headers={"Host": f"rebound.example:{server.port}"})
    reply = connection.getresponse()
    assert reply.status == 403 and b"Host" in reply.read()
    connection.close()
