"""The base class of errors meant for users.

Raise :class:`DynodeError` (or a subclass) with a one-line message that names
the problem; the CLI prints it as ``Error: ...`` and exits with code 1.
"""


class DynodeError(Exception):
    """A problem with the user's input or environment, explained in one line."""


class InputError(DynodeError, ValueError):
    """Bad input data (video, checkpoint, trajectory, option)."""
