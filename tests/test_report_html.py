"""report.html beside every run: built from the folder's files, self-contained, rebuilt by
``dynode report``; one-line errors for folders that are not runs. The page in a real
browser is tests/test_report_browser.py."""

import json
import shlex
import shutil
from html.parser import HTMLParser

import pytest
import torch

from dynode_core.run import RunConfig, run_pipeline
from dynode_core.run.html import PLOT_HEIGHT, PLOT_PAD, frame_plot, render_report

from conftest import run_dynode

EDITS = ["sefa:0:2", "sefa:1:-2"]
SMALL = dict(demo_frames=6, inversion_steps=2, dynamics="linear", interpolate=2,
             batch_size=4, device="cpu", edits=EDITS)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "run"
    run_pipeline(RunConfig(out=str(out), **SMALL), progress=False)
    return out


class Links(HTMLParser):
    """Every src / href of a page, and the tags that carry them."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self.videos: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in ("src", "href"):
            if attrs.get(name) is not None:
                self.links.append((tag, attrs[name]))
        if tag == "video":
            self.videos.append(attrs["src"])


def _links(html: str) -> Links:
    parser = Links()
    parser.feed(html)
    return parser


def test_run_writes_per_frame_metrics_that_average_to_the_headline(run_dir):
    metrics = json.loads((run_dir / "metrics.json").read_text())
    for name in ("psnr", "ssim"):
        values = metrics[f"reconstruction_{name}_per_frame"]
        assert len(values) == metrics["frames"] == 6
        assert sum(values) / len(values) == pytest.approx(metrics[f"reconstruction_{name}"],
                                                          abs=1e-3)
    assert len(set(metrics["reconstruction_psnr_per_frame"])) > 1  # really per frame


def test_page_links_only_the_run_folders_own_files(run_dir):
    html = (run_dir / "report.html").read_text()
    page = _links(html)
    assert page.videos == ["input.mp4", "reconstruction.mp4", "interpolated.mp4",
                           "edited_sefa-0-2.mp4", "edited_sefa-1--2.mp4"]
    assert ("img", "trajectory.png") in page.links and ("img", "contact_sheet.png") in page.links
    for tag, link in page.links:
        if link == "data:,":  # the empty favicon: no request for /favicon.ico
            continue
        assert "://" not in link and not link.startswith("/"), (tag, link)
        assert (run_dir / link).is_file(), (tag, link)
    assert "<script src" not in html and "@import" not in html


def test_page_shows_the_runs_numbers_config_and_versions(run_dir):
    html = (run_dir / "report.html").read_text()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert f'data-metric="reconstruction_psnr">{metrics["reconstruction_psnr"]:.4g}<' in html
    assert f'data-stage="invert">{metrics["stages"]["invert"]["seconds"]:.4g}<' in html
    assert html.count("<polyline") == 2  # PSNR and SSIM per frame
    assert "&#34;sefa:1:-2&#34;" in html  # the config, as written (escaped)
    assert metrics["versions"]["torch"] in html


def test_reproduce_line_runs_the_same_run_again(run_dir, tmp_path):
    html = (run_dir / "report.html").read_text()
    start = html.index('id="reproduce-command">') + len('id="reproduce-command">')
    command = html[start:html.index("</code>", start)]
    args = shlex.split(command)
    assert args[:2] == ["dynode", "run"] and f"{run_dir}/config.toml" in args
    again = run_dir.parent / f"{run_dir.name}-again"
    shutil.rmtree(again, ignore_errors=True)
    proc = run_dynode(*args[1:], "--quiet")
    assert proc.returncode == 0, proc.stderr
    from dynode_core.trajectory import LatentTrajectory

    mine, theirs = (LatentTrajectory.load(f / "latents.safetensors") for f in (run_dir, again))
    assert torch.equal(mine.latents, theirs.latents)
    assert (again / "report.html").is_file()


def test_dynode_report_rebuilds_the_same_page(run_dir):
    written = (run_dir / "report.html").read_text()
    (run_dir / "report.html").unlink()
    proc = run_dynode("report", str(run_dir))
    assert proc.returncode == 0, proc.stderr
    assert (run_dir / "report.html").read_text() == written
    assert not [p for p in run_dir.iterdir() if p.name.startswith(".report")]


def test_names_from_the_folder_are_escaped(run_dir, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    (copy / 'edited_<i>&"x.mp4').write_bytes(b"")
    html = render_report(copy)
    assert "<i>" not in html and "edited &lt;i&gt;&amp;&#34;x" in html


@pytest.mark.parametrize("make, message", [
    (lambda p: p, "is not a dynode run folder"),
    (lambda p: (p / ".dynode-run").write_text("x"), "has no metrics.json"),
    (lambda p: [(p / ".dynode-run").write_text("x"), (p / "metrics.json").write_text("{")],
     "metrics.json is not valid JSON"),
])
def test_report_on_a_folder_that_is_not_a_finished_run_is_one_line(tmp_path, make, message):
    folder = tmp_path / "folder"
    folder.mkdir()
    make(folder)
    proc = run_dynode("report", str(folder))
    assert proc.returncode == 2
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert not (folder / "report.html").exists()


def test_report_on_a_missing_folder_is_one_line(tmp_path):
    proc = run_dynode("report", str(tmp_path / "nowhere"))
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "is not a folder" in proc.stderr


def test_frame_plot_spans_the_box_top_to_bottom():
    plot = frame_plot([30.0, 20.0, 25.0], "psnr")
    ys = [float(p.split(",")[1]) for p in plot.points.split()]
    xs = [float(p.split(",")[0]) for p in plot.points.split()]
    assert ys == [PLOT_PAD, PLOT_HEIGHT - PLOT_PAD, PLOT_HEIGHT / 2]  # max at the top
    assert xs[0] == PLOT_PAD and xs == sorted(xs) and plot.count == 3
    assert (plot.low, plot.high, plot.mean) == ("20", "30", "25")
    assert frame_plot([], "psnr") is None
