"""Click parameter types shared by every dynode command (imports only click)."""

from __future__ import annotations

import click

#: ``--device`` on every command (resolved by :func:`dynode_core.resolve_device`).
DEVICE = click.Choice(["auto", "cpu", "cuda"])


class ComponentName(click.ParamType):
    """A component name of one kind, validated against the registry.

    A bad name exits with code 2 and the list of valid names.
    """

    name = "name"

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def get_metavar(self, param, ctx=None):  # noqa: D401 - click API
        return self.kind.rstrip("s").upper()

    def convert(self, value, param, ctx):
        from .plugins import get_registry
        from .registry import RegistryError

        if not isinstance(value, str):
            return value
        try:
            return get_registry().get(self.kind, value).name
        except RegistryError as exc:
            self.fail(str(exc), param, ctx)

    def shell_complete(self, ctx, param, incomplete):
        from click.shell_completion import CompletionItem

        from .plugins import get_registry

        return [CompletionItem(n) for n in get_registry().names(self.kind)
                if n.startswith(incomplete)]


def parse_options(items, param_hint: str = "--option") -> dict:
    """``KEY=VALUE`` pairs to keywords (``-`` in keys becomes ``_``); values that
    parse as JSON are converted (``steps=20`` -> 20, ``layers=[0,1]`` -> a list)."""
    import json

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint=param_hint)
        try:
            out[key.replace("-", "_")] = json.loads(value)
        except json.JSONDecodeError:
            out[key.replace("-", "_")] = value
    return out


class Number(click.ParamType):
    """A number checked by :func:`dynode_core.check_number` (finite, of its kind, in its
    range): ``nan``, ``inf`` or a value out of range exit with code 2 and one line."""

    def __init__(self, kind: type = float, minimum=None, maximum=None, above=None) -> None:
        self.kind, self.minimum, self.maximum, self.above = kind, minimum, maximum, above
        self.name = "integer" if kind is int else "number"

    def get_metavar(self, param, ctx=None):  # noqa: D401 - click API
        return "N" if self.kind is int else "X"

    def convert(self, value, param, ctx):
        from .errors import InputError
        from .validate import CEILING, check_number

        if isinstance(value, str):
            try:
                value = int(value) if self.kind is int and value.strip().lstrip("+-").isdigit() \
                    else float(value)
            except ValueError:
                self.fail(f"{value!r} is not a number", param, ctx)
        name = param.opts[0] if param is not None and param.opts else "value"
        try:
            return check_number(name, value, kind=self.kind, minimum=self.minimum,
                                maximum=CEILING if self.maximum is None else self.maximum,
                                above=self.above)
        except InputError as exc:
            self.fail(str(exc).removeprefix("setting "), param, ctx)


class Propagation(click.ParamType):
    """A name in :data:`dynode_core.PROPAGATIONS` (checked when given)."""

    name = "propagation"

    def get_metavar(self, param, ctx=None):  # noqa: D401 - click API
        return "dynamics|offset|cde|ivp"

    def convert(self, value, param, ctx):
        from .edits import PROPAGATIONS

        if value not in PROPAGATIONS:
            self.fail(f"unknown propagation {value!r}; valid propagations: "
                      f"{', '.join(PROPAGATIONS)}", param, ctx)
        return value


#: ``--precision`` on the commands that run a generator (checked against the device by
#: :func:`dynode_core.compute.check_precision`).
PRECISION = click.Choice(["fp32", "bf16"])
PRECISION_HELP = ("The generator's number format: bf16 is faster on CPUs with AVX512_BF16 / "
                  "AMX and CUDA GPUs that have it, and refused elsewhere [fp32].")


def with_threads(command):
    """Add ``--threads N`` to a command: torch's thread count for the command, else
    ``$DYNODE_THREADS``, else torch's default (:func:`dynode_core.compute.set_threads`)."""
    import functools

    from .compute import THREADS_ENV, THREADS_RANGE

    @functools.wraps(command)
    def run(*args, threads=None, **kwargs):
        from .compute import set_threads

        set_threads(threads)
        return command(*args, **kwargs)

    help_text = f"Torch threads [${THREADS_ENV}, else torch's default]."
    return click.option("--threads", type=Number(*THREADS_RANGE), help=help_text)(run)
