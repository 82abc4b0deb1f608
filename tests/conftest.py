"""Shared test helpers: the fixtures folder beside the repo and a clean plugin manager."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_FIXTURES = REPO.parent / "shared" / "fixtures"


def load_script(name: str, folder: str = "scripts"):
    """``FOLDER/NAME.py`` imported as a module (scripts and benchmarks are not packages)."""
    spec = importlib.util.spec_from_file_location(name, REPO / folder / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


def fixture_path(*parts: str) -> Path:
    """A path under ../shared/fixtures, or skip the test saying why."""
    path = SHARED_FIXTURES.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs ../shared/fixtures/{'/'.join(parts)} (absent in this checkout)")
    return path


@pytest.fixture(autouse=True)
def _fresh_plugins(monkeypatch):
    """Each test starts with plugins loaded from scratch and no dynode env switches."""
    from dynode_core.plugins import reset_plugin_manager

    for var in list(os.environ):
        if var.startswith("DYNODE_"):
            monkeypatch.delenv(var)
    reset_plugin_manager()
    yield
    reset_plugin_manager()


@pytest.fixture(autouse=True)
def _torch_threads():
    """Scripts' ``main`` sets torch's thread count; later tests compare in-process results
    with subprocess runs bit for bit, which needs the default count back."""
    import torch

    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def run_dynode(*args: str, env: dict | None = None, cwd=None) -> subprocess.CompletedProcess:
    """Run the dynode CLI in a subprocess (as a user would)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("DYNODE_")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "dynode_core.cli", *args], capture_output=True,
                          text=True, env=full_env, cwd=cwd, timeout=300)


def default_sigint() -> None:
    """``preexec_fn`` for a child process a test interrupts with SIGINT: the default
    disposition, even when the test run inherited SIGINT ignored (a shell starts background
    jobs that way, and Python then leaves it ignored in every child)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def stopping_after(steps: int):
    """A progress callback ("advance adds") that raises KeyboardInterrupt once ``steps``
    steps have advanced: an interruption at a known point."""
    done = []

    def progress(advance=0, total=None, **fields):
        done.append(advance)
        if sum(done) >= steps:
            raise KeyboardInterrupt

    return progress

