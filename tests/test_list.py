"""``dynode list``: every component with its plugin, the distribution that installed it
(from the package metadata) and its optional extra, installed or not; text shown
literally (``[faces]`` is not rich markup)."""

import json
from importlib import metadata

from click.testing import CliRunner

from dynode_core.cli import cli
from dynode_core.listing import missing_for_extra


def core_distribution() -> str:
    return metadata.packages_distributions()["dynode_core"][0]


def test_json_names_plugin_distribution_and_extra():
    result = CliRunner().invoke(cli, ["list", "aligners", "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.output)}
    face = rows["face"]
    assert face["plugin"] == "dynode_faces" and face["extra"] == "faces"
    assert face["distribution"] == metadata.metadata(core_distribution())["Name"]
    missing = missing_for_extra(face["distribution"], "faces")
    assert face["extra_installed"] == (not missing)
    assert rows["center"]["extra"] is None and rows["center"]["extra_installed"] is None


def test_table_shows_square_brackets_literally_and_the_extra_state():
    result = CliRunner().invoke(cli, ["list", "aligners"], terminal_width=200,
                                env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    text = result.output
    for header in ("plugin", "distribution", "extra", "description"):
        assert header in text
    face = next(line for line in text.splitlines() if " face " in line)
    assert "[faces]" in face  # rich markup would have eaten it
    assert ("faces: installed" in face) or ("faces: missing" in face), face


def test_a_missing_extra_is_named(tmp_path, monkeypatch):
    """A plugin from an installed distribution whose extra needs a package that is not
    installed: the row names the distribution and the missing requirement."""
    info = tmp_path / "fake_dynode_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: fake-dynode-plugin\nVersion: 1.0\n"
        "Provides-Extra: gpu\nRequires-Dist: no-such-package-xyz>=1; extra == \"gpu\"\n"
        "Requires-Dist: click; extra == \"gpu\"\n")
    (info / "top_level.txt").write_text("fake_dynode_plugin\n")
    (tmp_path / "fake_dynode_plugin.py").write_text(
        "from dynode_core import hookimpl\n\n@hookimpl\ndef register_dynamics(register):\n"
        "    register('needs-gpu', lambda **k: None, extra='gpu')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("DYNODE_PLUGINS", "fake_dynode_plugin")
    result = CliRunner().invoke(cli, ["list", "dynamics", "--json"])
    assert result.exit_code == 0, result.output
    row = next(r for r in json.loads(result.output) if r["name"] == "needs-gpu")
    assert row["plugin"] == "fake_dynode_plugin" and row["distribution"] == "fake-dynode-plugin"
    assert row["extra_installed"] is False
    assert row["extra_state"] == "gpu: missing no-such-package-xyz"  # click is installed
    table = CliRunner().invoke(cli, ["list", "dynamics"], env={"COLUMNS": "200"}).output
    assert "gpu: missing no-such-package-xyz" in table


def test_missing_requirements_of_an_extra_are_listed():
    dist = core_distribution()
    extras = metadata.metadata(dist).get_all("Provides-Extra") or []
    assert "faces" in extras and "test" in extras
    assert missing_for_extra(dist, "not-an-extra") is None
    # every requirement of the test extra is installed where this test runs
    assert missing_for_extra(dist, "test") == ()
