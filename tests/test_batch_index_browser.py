"""The batch's index.html in a real headless browser (Debian's chromium through selenium):
a thumbnail of each video's input and output, every image loaded and every linked video
playable, the failed videos on top with their errors, a link to each report, and columns
that sort on a click. Skips in one line where /usr/bin/chromium or chromedriver is absent."""

import json

import pytest

from dynode_core.app import run_batch

from browser import chromium, require_chromium, serve
from test_batch import corrupt_video, write_manifest

WAIT = 30  # seconds the browser may take to load; never a timing assertion

ROWS = """return Array.from(document.querySelectorAll('#runs tbody tr')).map(r => ({
    name: r.dataset.name, status: r.dataset.status, psnr: r.dataset.psnr,
    report: (r.querySelector('a.report') || {}).href || null,
    images: Array.from(r.querySelectorAll('img')).map(i => ({
        src: i.getAttribute('src'), complete: i.complete, width: i.naturalWidth})),
    videos: Array.from(r.querySelectorAll('.thumbs a')).map(a => a.getAttribute('href'))}));"""

PLAY = """const done = arguments[arguments.length - 1];
Promise.all(arguments[0].map(src => new Promise(resolve => {
    const v = document.createElement('video');
    v.muted = true; v.preload = 'auto';
    const report = () => resolve({src, ready: v.readyState, duration: v.duration,
                                  error: v.error && v.error.code});
    v.addEventListener('canplaythrough', report, {once: true});
    v.addEventListener('error', report, {once: true});
    v.src = src; document.body.appendChild(v);
}))).then(done);"""


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    require_chromium()
    root = tmp_path_factory.mktemp("batch-index")
    bad = corrupt_video(root / "broken.mp4")
    manifest = write_manifest(root / "m.toml", [
        {"input": "world:circle:6", "edits": ["sefa:0:2"]}, {"input": str(bad)},
        {"input": "world:spin:6"}])
    summary = run_batch(manifest, root / "out", progress=False)
    assert [r.status for r in sorted(summary.results, key=lambda r: r.index)] == \
        ["ok", "failed", "ok"]
    with serve(summary.folder) as url, chromium() as driver:
        driver.get(url + "index.html")
        yield driver, summary.folder, url


def _wait(driver, condition):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT, poll_frequency=0.05).until(condition)


def _fresh(batch):
    """The index loaded anew (a sort by an earlier test is undone), for any test order."""
    driver, folder, url = batch
    driver.get_log("browser")  # read (and so cleared): what an earlier test left
    driver.get(url + "index.html")
    return driver, folder, url


def test_failed_videos_come_first_with_their_one_line_errors(batch):
    driver, folder, _ = _fresh(batch)
    rows = driver.execute_script(ROWS)
    assert [r["name"] for r in rows] == ["broken", "world-circle-6", "world-spin-6"]
    failures = driver.find_element("id", "failures").text
    assert "broken" in failures and "cannot read video" in failures
    assert rows[0]["report"] is None and not rows[0]["images"]


def test_every_thumbnail_loads_and_every_linked_video_plays(batch):
    driver, folder, url = _fresh(batch)
    _wait(driver, lambda d: all(i["complete"] for r in d.execute_script(ROWS)
                                for i in r["images"]))
    rows = driver.execute_script(ROWS)
    for row in rows[1:]:
        assert len(row["images"]) == 2, row  # the input and the output
        assert all(i["width"] > 0 for i in row["images"]), row  # decoded, not broken
        assert (folder / row["images"][0]["src"]).is_file()
    assert rows[1]["videos"] == ["world-circle-6/input.mp4", "world-circle-6/edited_sefa-0-2.mp4"]
    assert rows[2]["videos"] == ["world-spin-6/input.mp4", "world-spin-6/interpolated.mp4"]
    driver.set_script_timeout(WAIT)
    videos = [v for r in rows for v in r["videos"]]
    states = driver.execute_async_script(PLAY, videos)
    assert [s["src"] for s in states] == videos
    for state in states:
        assert state["error"] is None and state["ready"] == 4 and state["duration"] > 0, state
    severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not severe, severe
    requested = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)")
    assert all(name.startswith(url) for name in requested), requested


def test_links_open_each_runs_report_with_its_numbers(batch):
    driver, folder, url = _fresh(batch)
    rows = driver.execute_script(ROWS)
    batch_json = {v["name"]: v for v in json.loads((folder / "batch.json").read_text())["videos"]}
    for row in rows[1:]:
        assert row["report"] == f"{url}{row['name']}/report.html"
        assert float(row["psnr"]) == pytest.approx(batch_json[row["name"]]["psnr"], abs=0.006)


def test_columns_sort_on_a_click(batch):
    driver, _, _ = _fresh(batch)
    header = driver.find_element("css selector", "th[data-key=psnr] button")
    header.click()
    ascending = [r["name"] for r in driver.execute_script(ROWS)]
    psnr = {r["name"]: r["psnr"] for r in driver.execute_script(ROWS)}
    numbers = sorted((float(psnr[n]), n) for n in psnr if psnr[n])
    assert ascending == [n for _, n in numbers] + ["broken"]  # no number sorts last
    header.click()
    assert [r["name"] for r in driver.execute_script(ROWS)] == \
        [n for _, n in reversed(numbers)] + ["broken"]
    driver.find_element("css selector", "th[data-key=order] button").click()
    assert [r["name"] for r in driver.execute_script(ROWS)] == \
        ["world-circle-6", "broken", "world-spin-6"]  # the manifest's order
