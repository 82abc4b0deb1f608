"""Plugin loading: entry points, environment switches, failures, listing."""

import json
import os
import textwrap
from importlib import metadata

import pytest

from conftest import REPO, run_dynode

BUNDLED = "dynode_video"


def plugins_json(env=None):
    proc = run_dynode("plugins", "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    return {p["name"]: p for p in json.loads(proc.stdout)}, proc


def pythonpath(*extra):
    parts = [str(p) for p in extra] + [os.environ.get("PYTHONPATH", "")]
    return {"PYTHONPATH": os.pathsep.join(p for p in parts if p)}


@pytest.fixture
def example_installed():
    try:
        return metadata.distribution("dynode-plugin-example")
    except metadata.PackageNotFoundError:
        pytest.skip("examples/dynode-plugin-example is not installed "
                    "(pip install examples/dynode-plugin-example)")


def test_installed_example_plugin_is_listed_with_version_and_names(example_installed):
    plugins, _ = plugins_json()
    info = plugins["example"]
    assert info["version"] == example_installed.version
    assert info["source"] == "entry point" and info["status"] == "active"
    assert info["provides"] == {"dynamics": ["hold"]}
    assert info["distribution"] == "dynode-plugin-example"


def test_autoload_switch_hides_entry_points_but_keeps_bundled(example_installed):
    plugins, _ = plugins_json({"DYNODE_DISABLE_PLUGIN_AUTOLOAD": "1"})
    assert "example" not in plugins
    assert plugins[BUNDLED]["source"] == "bundled" and plugins[BUNDLED]["status"] == "active"


def test_dynode_plugins_env_loads_a_module_by_name(tmp_path):
    (tmp_path / "my_env_plugin.py").write_text(textwrap.dedent('''
        from dynode_core import hookimpl

        @hookimpl
        def register_metrics(register):
            register("always-one", lambda **kw: 1.0, description="test metric")
    '''))
    env = {"DYNODE_PLUGINS": "my_env_plugin", **pythonpath(tmp_path)}
    plugins, _ = plugins_json(env)
    assert plugins["my_env_plugin"]["source"] == "env"
    assert plugins["my_env_plugin"]["provides"] == {"metrics": ["always-one"]}
    proc = run_dynode("list", "metrics", "--json", env=env)
    assert "always-one" in [row["name"] for row in json.loads(proc.stdout)]


def test_disable_plugins_blocks_a_bundled_one():
    plugins, _ = plugins_json({"DYNODE_DISABLE_PLUGINS": BUNDLED})
    assert plugins[BUNDLED]["status"] == "blocked"
    proc = run_dynode("list", "video_readers", "--json", env={"DYNODE_DISABLE_PLUGINS": BUNDLED})
    assert [r for r in json.loads(proc.stdout) if r["plugin"] == BUNDLED] == []
    assert "pyav" not in proc.stdout


@pytest.fixture
def broken_distribution(tmp_path):
    """A fake installed distribution whose entry point raises on import."""
    dist = tmp_path / "broken_dynode_plugin-0.3.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-dynode-plugin\nVersion: 0.3.0\n")
    (dist / "entry_points.txt").write_text("[dynode]\nbroken = broken_dynode_plugin\n")
    (tmp_path / "broken_dynode_plugin.py").write_text(
        "raise ImportError('needs the package frobnicate')\n")
    return pythonpath(tmp_path)


def test_a_plugin_that_fails_to_import_is_reported_and_skipped(broken_distribution):
    plugins, proc = plugins_json(broken_distribution)
    assert plugins["broken"]["status"] == "failed"
    assert "frobnicate" in plugins["broken"]["error"]
    assert plugins["broken"]["version"] == "0.3.0"
    warning_lines = [line for line in proc.stderr.splitlines() if "broken" in line]
    assert len(warning_lines) == 1 and "Traceback" not in proc.stderr
    assert plugins[BUNDLED]["status"] == "active"
    listed = run_dynode("list", "--json", env=broken_distribution)
    assert listed.returncode == 0 and json.loads(listed.stdout)


def test_strict_mode_makes_a_failing_plugin_fatal(broken_distribution):
    proc = run_dynode("list", env={"DYNODE_STRICT_PLUGINS": "1", **broken_distribution})
    assert proc.returncode != 0
    assert "frobnicate" in proc.stderr


def test_bad_component_kind_for_list_exits_2():
    proc = run_dynode("list", "gizmos")
    assert proc.returncode == 2 and "valid kinds" in proc.stderr and "Traceback" not in proc.stderr


def test_help_and_version_work():
    assert run_dynode("--help").returncode == 0
    proc = run_dynode("--version")
    from dynode_core import __version__

    assert __version__ in proc.stdout


def test_help_imports_no_heavy_module():
    import subprocess
    import sys

    code = ("import sys; from dynode_core.cli import main; sys.argv=['dynode','--help'];\n"
            "try:\n    main(['--help'])\nexcept SystemExit: pass\n"
            "heavy=[m for m in ('torch','av','PIL','matplotlib','scipy') if m in sys.modules];"
            "print('HEAVY', heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, timeout=120)
    assert "HEAVY []" in out.stdout, out.stdout + out.stderr
