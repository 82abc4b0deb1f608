"""Testing helpers for plugin authors: call them from your own tests.

- Conformance checks (scikit-learn's ``check_estimator`` idea): :func:`check_generator`,
  :func:`check_editor`, :func:`check_inverter`, :func:`check_dynamics`; each runs on tiny
  CPU inputs and raises :class:`AssertionError` whose message names the broken rule.
- Runs with your plugin (pytest's ``pytester`` idea): :func:`run_with_plugins` runs
  ``dynode run`` in this process with plugin objects registered beside the installed
  ones; :func:`run_cli` runs the real ``dynode`` command in a subprocess, as a user
  would, and returns its exit code and output.
"""

from .components import (check_dynamics, check_editor, check_generator, check_inverter,
                         tiny_trajectory)
from .runs import run_cli, run_with_plugins

__all__ = ["check_dynamics", "check_editor", "check_generator", "check_inverter",
           "run_cli", "run_with_plugins", "tiny_trajectory"]
