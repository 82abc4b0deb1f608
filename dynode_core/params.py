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
