"""Guards of the architecture (datasette's idea): the core imports no bundled plugin, a
plugin imports only the core's public API and never another plugin, the public API is two
deliberate lists, the core has no import cycle, the run package is entered only through its
face, and the core never probes a component for a capability it should declare."""

import ast
from pathlib import Path

import pytest

import dynode_core

REPO = Path(__file__).resolve().parents[1]
PLUGINS = sorted(p.name for p in (REPO / "plugins").iterdir()  # packages, not dynode_gan.egg-info
                 if p.name.startswith("dynode_") and (p / "__init__.py").is_file())
#: What a plugin may import of the core; plugins that add commands may also use the
#: application tier.
PLUGIN_API = {"dynode_core", "dynode_core.testing", "dynode_core.formats"}
COMMAND_API = PLUGIN_API | {"dynode_core.app"}


def registers_commands(plugin: str) -> bool:
    """Whether a plugin implements ``register_commands`` (in its package's __init__)."""
    tree = ast.parse((REPO / "plugins" / plugin / "__init__.py").read_text())
    return any(isinstance(node, ast.FunctionDef) and node.name == "register_commands"
               for node in tree.body)


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
    allowed = COMMAND_API if registers_commands(plugin) else PLUGIN_API
    bad = []
    for path in (REPO / "plugins" / plugin).rglob("*.py"):
        for line, module in imports(path):
            if owner(module) in PLUGINS and owner(module) != plugin:
                bad.append(f"{path.relative_to(REPO)}:{line} imports another plugin: {module}")
            elif owner(module) == "dynode_core" and module not in allowed:
                bad.append(f"{path.relative_to(REPO)}:{line} imports {module}; this plugin "
                           f"may import {', '.join(sorted(allowed))} only")
    assert not bad, "\n".join(bad)


def test_only_plugins_that_add_commands_use_the_application_tier():
    users = {plugin for plugin in PLUGINS for path in (REPO / "plugins" / plugin).rglob("*.py")
             if any(module == "dynode_core.app" for _, module in imports(path))}
    assert users and all(registers_commands(plugin) for plugin in users), users


def test_the_guard_resolves_relative_imports():
    found = dict((m, n) for n, m in imports(REPO / "plugins" / "dynode_shapes" / "bench" / "edit.py"))
    assert "dynode_shapes.bench.common" in found


#: The component tier (``dynode_core``): what every plugin relies on. A change here is a
#: change to what plugins and users rely on.
PUBLIC_API = [
    "__version__", "hookimpl", "lazy", "get_registry",
    "Generator", "Inverter", "Dynamics", "Editor", "Aligner", "Alignment", "Tuner",
    "Direction", "Progress", "no_progress", "Executor",
    "VideoReader", "VideoWriter", "FrameSink", "FrameBatch", "VideoInfo",
    "DynodeError", "InputError", "OutputError", "check_number",
    "LatentTrajectory", "check_times",
    "RunConfig", "run_pipeline", "Stage", "StageOption", "Stages", "result_of",
    "Source", "Output", "Rendered",
    "JobResult", "BatchWorker", "resolve_device",
    "atomic_path", "atomic_write_text", "check_new_output", "read_safetensors",
    "write_safetensors", "check_format", "config_of", "load_tensor_file",
    "weights_fingerprint",
    "read_video", "write_video", "iter_frames", "batch_frames",
]
#: The application tier (``dynode_core.app``): the building blocks of dynode's commands.
APP_API = [
    "invert_video", "build_inverter", "default_encoder",
    "parse_edit", "resolve_edit", "propagate_edit", "reference_codes", "create_editor",
    "Edit", "EditSpec", "PROPAGATIONS", "upsample_times", "extrapolation_times",
    "render_all", "add_edits", "psnr_ssim", "warping_error",
    "align_video", "open_video", "run_batch", "read_manifest",
    "generator_sha256", "tune_generator", "save_generator_delta", "read_generator_delta",
    "apply_generator_delta",
    "ComponentName", "parse_options", "Progressor", "versions", "peak_rss_mb",
    "set_threads", "check_precision", "apply_precision", "bf16_unsupported", "with_threads",
]


def test_the_public_api_is_exactly_the_declared_lists():
    import dynode_core.app

    assert dynode_core.__all__ == PUBLIC_API
    assert dynode_core.app.__all__ == APP_API
    assert not set(PUBLIC_API) & set(APP_API)


@pytest.mark.parametrize("name", PUBLIC_API)
def test_every_public_name_resolves(name):
    assert getattr(dynode_core, name) is not None


@pytest.mark.parametrize("name", APP_API)
def test_every_application_name_resolves(name):
    import dynode_core.app

    assert getattr(dynode_core.app, name) is not None


# ------------------------------------------------------------------ the core's own shape
def core_modules() -> dict[str, Path]:
    """Every module of the core by dotted name (a package by its ``__init__``)."""
    found = {}
    for path in (REPO / "dynode_core").rglob("*.py"):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _type_checking_lines(tree) -> set[int]:
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            lines |= {n.lineno for sub in node.body for n in ast.walk(sub)
                      if hasattr(n, "lineno")}
    return lines


def core_import_graph() -> dict[str, set[str]]:
    """module -> the core modules it imports at run time, anywhere in the file (inside
    functions too; ``if TYPE_CHECKING:`` blocks, which never run, left out)."""
    modules = core_modules()
    graph = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        skip = _type_checking_lines(tree)
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        for node in ast.walk(tree):
            if getattr(node, "lineno", None) in skip:
                continue
            if isinstance(node, ast.Import):
                graph[name] |= {a.name for a in node.names if a.name in modules}
            elif isinstance(node, ast.ImportFrom):
                base = package[:len(package) - node.level + 1] if node.level else []
                target = ".".join(base + ([node.module] if node.module else []))
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    graph[name] |= {sub} if sub in modules else \
                        ({target} if target in modules else set())
        graph[name].discard(name)
    return graph


def import_cycles(graph) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                group.append(other)
                if other == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in graph:
        if node not in index:
            visit(node)
    return groups


def test_the_core_has_no_import_cycle():
    assert import_cycles(core_import_graph()) == []


def test_the_cycle_guard_finds_a_cycle():
    assert import_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_only_the_layers_above_a_run_use_the_run_package_and_only_its_face():
    """Nothing outside ``run/`` imports a module inside it; ``commands/``, ``batch/``,
    ``testing/`` and ``studio/`` (which run runs) use the package's face,
    ``dynode_core.run``, and nothing else does."""
    bad = []
    for name, targets in core_import_graph().items():
        if name == "dynode_core.run" or name.startswith("dynode_core.run."):
            continue
        above = name.startswith(("dynode_core.commands", "dynode_core.batch",
                                 "dynode_core.testing", "dynode_core.studio"))
        for target in targets:
            if target.startswith("dynode_core.run.") or (target == "dynode_core.run"
                                                        and not above):
                bad.append(f"{name} imports {target}")
    assert not bad, "\n".join(bad)


#: Names the core uses for components; a ``getattr``/``hasattr`` of one of them with a
#: literal attribute is a probe for a capability the interface should declare.
COMPONENT_NAMES = {"generator", "g", "model", "editor", "inverter", "dynamics", "aligner",
                   "tuner", "executor", "encoder", "component", "module", "writer", "reader"}


def test_the_core_never_probes_a_component_for_a_capability():
    """(``testing.py`` is exempt: checking what a plugin's object declares is its job.)"""
    bad = []
    for name, path in core_modules().items():
        if name == "dynode_core.testing":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in ("getattr", "hasattr") and len(node.args) >= 2
                    and isinstance(node.args[0], ast.Name)
                    and node.args[0].id in COMPONENT_NAMES
                    and isinstance(node.args[1], ast.Constant)):
                bad.append(f"{path.relative_to(REPO)}:{node.lineno} {ast.unparse(node)}")
    assert not bad, "\n".join(bad)


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
