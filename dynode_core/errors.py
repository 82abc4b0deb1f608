"""The errors meant for users, under one root.

Raise :class:`DynodeError` (or a subclass) with a one-line message that names
the problem; the CLI prints it as ``Error: ...`` and exits with code 1. Every
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
