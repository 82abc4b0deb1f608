"""The ``dynode`` command group.

Core commands live in :mod:`dynode_core.commands` (one module per command
family, each importing only click at module level); plugins add theirs through
the ``register_commands`` hook. Errors meant for users are printed as one line
with a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import errno
import importlib
import json
import os
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
    "dynode_core.commands.align",
    "dynode_core.commands.run",
    "dynode_core.commands.render",
    "dynode_core.commands.tune",
    "dynode_core.commands.batch",
    "dynode_core.commands.report",
    "dynode_core.commands.studio",
)


#: Errors of the system a user can act on (a full disk, a read-only folder ...).
SYSTEM_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT,
                 errno.ENOENT, errno.ENOTDIR, errno.EISDIR}


def debug_enabled() -> bool:
    """``dynode --debug`` or ``DYNODE_DEBUG=1``: show tracebacks instead of one line."""
    return os.environ.get("DYNODE_DEBUG", "") not in ("", "0", "false", "no")


def one_line(exc: BaseException) -> str | None:
    """The one-line message for an error a user can act on, or None for a bug."""
    from .errors import DynodeError

    if isinstance(exc, DynodeError):
        return str(exc)
    if isinstance(exc, OSError) and exc.errno in SYSTEM_ERRNOS:
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror or exc}{where}"
    return None


class DynodeGroup(click.Group):
    """A click group that turns user errors into one line and exit code 1
    (``--debug`` / ``DYNODE_DEBUG=1`` shows the traceback instead)."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:  # noqa: BLE001
            message = one_line(exc)
            if message is None or debug_enabled():
                raise
            raise click.ClickException(message) from None


@click.group(cls=DynodeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dynode")
@click.option("--debug", is_flag=True, expose_value=False, is_eager=True,
              callback=lambda ctx, param, value: os.environ.__setitem__("DYNODE_DEBUG", "1")
              if value else None, help="Show tracebacks instead of one-line errors.")
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
        module = importlib.import_module(module_name)  # missing: a packaging error, raised
        for command in module.COMMANDS:
            cli.add_command(command)


def _plugin_commands() -> None:
    from .plugins import call_hooks, get_plugin_manager

    call_hooks(get_plugin_manager(), "register_commands", cli=cli)


_load_commands()


def main(argv=None) -> int:
    """Console entry point."""
    import warnings

    from .plugins import PluginLoadWarning

    warnings.simplefilter("default", PluginLoadWarning)
    warnings.formatwarning = lambda msg, cat, *a, **k: f"warning: {msg}\n"
    if "--debug" in (sys.argv[1:] if argv is None else argv):
        os.environ["DYNODE_DEBUG"] = "1"
    try:
        _plugin_commands()
    except Exception as exc:  # noqa: BLE001 - strict plugin mode or a broken hook
        if debug_enabled():
            raise
        click.echo(f"Error: {one_line(exc) or f'{type(exc).__name__}: {exc}'}", err=True)
        return 1
    try:
        cli.main(args=argv, prog_name="dynode", standalone_mode=True)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
