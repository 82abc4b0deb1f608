"""The ``dynode`` command group.

Core commands live in :mod:`dynode_core.commands` (one module per command
family, each importing only click at module level); plugins add theirs through
the ``register_commands`` hook. Errors meant for users are printed as one line
with a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import importlib
import json
import sys

import click

from . import __version__
from .params import ComponentName  # noqa: F401 - re-exported for plugins

#: Core command modules; each exposes ``COMMANDS``, a list of click commands.
COMMAND_MODULES = (
    "dynode_core.commands.generate",
    "dynode_core.commands.dynamics",
    "dynode_core.commands.edit",
    "dynode_core.commands.invert",
    "dynode_core.commands.run",
    "dynode_core.commands.render",
)


def user_errors():
    """The exception types that are shown as one line (imported lazily)."""
    from .io import OutputError
    from .registry import ComponentError, RegistryError
    from .trajectory import TrajectoryError

    errors = [OutputError, RegistryError, ComponentError, TrajectoryError, FileNotFoundError]
    from .errors import DynodeError

    errors.append(DynodeError)
    return tuple(errors)


class DynodeGroup(click.Group):
    """A click group that turns user errors into one line and exit code 1."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:  # noqa: BLE001
            if isinstance(exc, user_errors()):
                raise click.ClickException(str(exc)) from None
            raise


@click.group(cls=DynodeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dynode")
def cli():
    """dynode: turn a video into a continuous path in a GAN's latent space."""


@cli.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins_command(as_json):
    """List plugins: name, version, source, status and what each provides."""
    from .plugins import plugin_infos

    infos = plugin_infos()
    if as_json:
        click.echo(json.dumps([i.to_dict() for i in infos], indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("plugin", "version", "source", "status", "provides")
    for info in infos:
        provides = "; ".join(f"{k}: {', '.join(v)}" for k, v in info.provides.items())
        status = info.status if info.error is None else f"{info.status}: {info.error}"
        table.add_row(info.name, info.version or "-", info.source, status, provides)
    Console().print(table)


@cli.command("list")
@click.argument("kind", required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_command(kind, as_json):
    """List registered components, of every kind or of KIND."""
    from .plugins import get_registry
    from .registry import KINDS

    if kind is not None and kind not in KINDS:
        raise click.BadParameter(f"unknown kind {kind!r}; valid kinds: {', '.join(KINDS)}",
                                 param_hint="KIND")
    registry = get_registry()
    rows = [
        {"kind": c.kind, "name": c.name, "aliases": list(c.aliases),
         "description": c.description, "plugin": c.plugin}
        for c in registry.components(kind)
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("kind", "name", "plugin", "description")
    for row in rows:
        table.add_row(row["kind"], row["name"], row["plugin"], row["description"])
    Console().print(table)


def _load_commands() -> None:
    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        for command in module.COMMANDS:
            cli.add_command(command)


def _plugin_commands() -> None:
    from .plugins import get_plugin_manager

    get_plugin_manager().hook.register_commands(cli=cli)


_load_commands()


def main(argv=None) -> int:
    """Console entry point."""
    import warnings

    from .plugins import PluginLoadWarning

    warnings.simplefilter("default", PluginLoadWarning)
    warnings.formatwarning = lambda msg, cat, *a, **k: f"warning: {msg}\n"
    try:
        _plugin_commands()
    except Exception as exc:  # noqa: BLE001 - strict plugin mode or a broken hook
        click.echo(f"Error: {exc}", err=True)
        return 1
    try:
        cli.main(args=argv, prog_name="dynode", standalone_mode=True)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
