"""Running dynode with a plugin under test: in this process, or as the real command."""

from __future__ import annotations

import os
import subprocess
import sys


def run_with_plugins(config, *plugins, resume: bool = False, overwrite: bool = False,
                     progress: bool = False):
    """``run_pipeline(config)`` with ``plugins`` (modules or objects holding hook
    implementations) registered beside the installed ones, on a fresh plugin manager
    that is discarded afterwards (so other tests see the usual plugins). Returns the
    :class:`~dynode_core.run.RunResult`.

        result = run_with_plugins(RunConfig(out=str(tmp_path / "run")), MyStagePlugin())
        assert "mine" in result.metrics
    """
    from ..plugins import get_plugin_manager, reset_plugin_manager
    from ..run import run_pipeline

    reset_plugin_manager()
    try:
        manager = get_plugin_manager()
        for plugin in plugins:
            manager.register(plugin)
        manager.reset_registry()
        return run_pipeline(config, resume=resume, overwrite=overwrite, progress=progress,
                            plugin_manager=manager)
    finally:
        reset_plugin_manager()


def run_cli(*args: str, env: dict | None = None, cwd=None,
            timeout: float = 600) -> subprocess.CompletedProcess:
    """The ``dynode`` command with ``args`` in a subprocess (the installed plugins and
    entry points load as they would for a user); ``returncode``, ``stdout`` and
    ``stderr`` (text) on the result. ``env`` adds to this process's environment."""
    environment = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "dynode_core", *map(str, args)],
                          capture_output=True, text=True, env=environment, cwd=cwd,
                          timeout=timeout)
