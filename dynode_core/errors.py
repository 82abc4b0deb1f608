"""The errors meant for users, under one root.

Raise :class:`DynodeError` (or a subclass) with a one-line message that names
the problem; the CLI prints it as ``Error: ...`` and exits with code 2 (bad input or a
bad name, found before any work) or 1 (a failure while working). Every
user-facing error of dynode derives from it: bad input, an output that must not
be written, registry lookups and conflicts, failures inside a component.
"""


class DynodeError(Exception):
    """A problem with the user's input or environment, explained in one line."""


class InputError(DynodeError, ValueError):
    """Bad input data (video, checkpoint, trajectory, option)."""


class OutputError(DynodeError, OSError):
    """An output path that cannot or must not be written; one line for users."""


class RegistryError(DynodeError):
    """A component name that is invalid, unknown or registered twice."""


class PluginError(DynodeError):
    """A plugin failed to load, or one of its hooks raised; names the plugin and the hook."""


class ComponentError(DynodeError, RuntimeError):
    """An error raised inside a component, re-raised naming the component and its plugin."""


# ---------------------------------------------------------------- exit codes
#: ``dynode`` exits with one of these (the table is in ``dynode --help`` and docs/cli.md).
EXIT_OK = 0
EXIT_FAILURE = 1  # a failure while working (or an output that must not be written)
EXIT_USAGE = 2  # an invalid invocation, refused before any work
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)

_working = False


def begin_work() -> None:
    """Mark that a command's checks are over and its work has begun: an
    :class:`InputError` raised from now on is a failure while working (exit 1), not
    an invalid invocation (exit 2). :class:`dynode_core.app.Progressor` calls it when the
    first step starts."""
    global _working
    _working = True


def reset_work() -> None:
    """A new command starts (its checks come first)."""
    global _working
    _working = False


def exit_code(exc: BaseException) -> int:
    """The exit code for an error meant for users: :data:`EXIT_USAGE` for bad input or
    an unknown or invalid component name found before the work began, else
    :data:`EXIT_FAILURE`. An error class may say otherwise with ``invalid_invocation``."""
    usage = isinstance(exc, (InputError, RegistryError))
    if _working or not getattr(exc, "invalid_invocation", usage):
        return EXIT_FAILURE
    return EXIT_USAGE
