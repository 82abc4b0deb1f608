"""Guards of the architecture (datasette's idea): the core imports no bundled plugin, a
plugin imports only the core's public API and never another plugin, and the public API is
a deliberate list."""

import ast
from pathlib import Path

import pytest

import dynode_core

REPO = Path(__file__).resolve().parents[1]
PLUGINS = sorted(p.name for p in (REPO / "plugins").iterdir()
                 if p.is_dir() and p.name.startswith("dynode_"))
#: What a plugin may import of the core.
PLUGIN_API = {"dynode_core", "dynode_core.testing", "dynode_core.formats"}


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in a file, relative ones resolved."""
    root = REPO / "plugins" if path.is_relative_to(REPO / "plugins") else REPO
    package = list(path.relative_to(root).with_suffix("").parts[:-1])
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            found.append((node.lineno, ".".join(base + ([node.module] if node.module else []))))
    return found


def owner(module: str) -> str:
    return module.split(".")[0]


def test_there_are_bundled_plugins_to_guard():
    assert {"dynode_stylegan2", "dynode_shapes", "dynode_inversion", "dynode_video"} <= set(PLUGINS)


def test_the_core_imports_no_bundled_plugin():
    bad = [f"{path.relative_to(REPO)}:{line} imports {module}"
           for path in (REPO / "dynode_core").rglob("*.py")
           for line, module in imports(path) if owner(module) in PLUGINS]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("plugin", PLUGINS)
def test_a_plugin_imports_only_the_public_api_and_itself(plugin):
    bad = []
    for path in (REPO / "plugins" / plugin).rglob("*.py"):
        for line, module in imports(path):
            if owner(module) in PLUGINS and owner(module) != plugin:
                bad.append(f"{path.relative_to(REPO)}:{line} imports another plugin: {module}")
            elif owner(module) == "dynode_core" and module not in PLUGIN_API:
                bad.append(f"{path.relative_to(REPO)}:{line} imports {module}; plugins import "
                           "dynode_core, dynode_core.testing or dynode_core.formats only")
    assert not bad, "\n".join(bad)


def test_the_guard_resolves_relative_imports():
    found = dict((m, n) for n, m in imports(REPO / "plugins" / "dynode_shapes" / "bench" / "edit.py"))
    assert "dynode_shapes.bench.common" in found


#: The declared public API. A change here is a change to what plugins and users rely on.
PUBLIC_API = [
    "__version__", "hookimpl", "lazy", "get_registry",
    "Generator", "Inverter", "Dynamics", "Editor", "Aligner", "Alignment", "align_video", "Tuner", "Direction", "Progress", "no_progress",
    "Executor",
    "VideoReader", "VideoWriter", "FrameSink", "FrameBatch", "VideoInfo",
    "DynodeError", "InputError", "OutputError",
    "LatentTrajectory", "check_times",
    "RunConfig", "run_pipeline",
    "run_batch", "read_manifest", "BatchJob", "JobResult", "BatchWorker",
    "RunContext", "Stage", "Stages", "result_of", "resolve_device",
    "atomic_path", "atomic_write_text", "check_new_output", "read_safetensors",
    "write_safetensors", "check_format", "config_of", "load_tensor_file",
    "read_video", "write_video", "open_video", "iter_frames", "batch_frames",
    "invert_video", "build_inverter", "default_encoder", "weights_fingerprint",
    "upsample_times", "parse_edit", "resolve_edit", "propagate_edit", "reference_codes",
    "create_editor", "Edit", "EditSpec", "PROPAGATIONS",
    "render_batches", "render_all", "to_uint8", "contact_sheet", "psnr_ssim",
    "generator_sha256", "save_generator_delta", "read_generator_delta", "apply_generator_delta",
    "ComponentName", "parse_options", "Progressor", "versions", "peak_rss_mb",
]


def test_the_public_api_is_exactly_the_declared_list():
    assert dynode_core.__all__ == PUBLIC_API


@pytest.mark.parametrize("name", PUBLIC_API)
def test_every_public_name_resolves(name):
    assert getattr(dynode_core, name) is not None


def test_importing_the_api_loads_no_torch():
    import subprocess
    import sys

    code = "import sys, dynode_core; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_every_user_facing_error_derives_from_the_one_root():
    from dynode_core.errors import ComponentError, OutputError, RegistryError
    from dynode_core.registry import (ComponentConflictError, InvalidNameError,
                                      UnknownComponentError)
    from dynode_core.trajectory import TrajectoryError

    for error in (ComponentError, OutputError, RegistryError, TrajectoryError,
                  ComponentConflictError, InvalidNameError, UnknownComponentError,
                  dynode_core.InputError):
        assert issubclass(error, dynode_core.DynodeError), error
