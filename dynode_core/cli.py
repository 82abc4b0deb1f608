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


EPILOG = """\b
Exit codes:
  0    success
  1    a failure while working (a component failed, an output exists or
       cannot be written, the disk is full; some videos of a batch failed)
  2    an invalid invocation, refused before any work: an unknown option,
       a bad value, an unknown component name, an impossible combination
  130  interrupted (Ctrl-C); the message names the command that continues
"""


def resume_command(argv: list[str], command) -> list[str]:
    """The command line that continues an interrupted ``argv``: the same arguments,
    with ``--resume`` (in place of ``--overwrite``) when ``command`` takes it."""
    params = {p.name for p in getattr(command, "params", ())}
    if "resume" not in params:
        return ["dynode", *argv]
    kept = [a for a in argv if a != "--overwrite"]
    return ["dynode", *kept, *([] if "--resume" in kept else ["--resume"])]


def interrupted_line(argv: list[str], command) -> str:
    """The one line printed on Ctrl-C: what was finished and how to continue."""
    import shlex

    from .progress import finished_summary

    done = finished_summary() or "no step had started"
    again = resume_command(argv, command)
    verb = "continue with" if "--resume" in again else "run again with"
    return f"Interrupted ({done}); {verb}: {shlex.join(again)}"


class DynodeGroup(click.Group):
    """A click group with one table of exit codes (see :data:`EPILOG`): errors meant
    for users become one line (``--debug`` / ``DYNODE_DEBUG=1`` shows the traceback
    instead) and Ctrl-C prints what was finished and the command that continues."""

    argv: list[str] = []

    def main(self, args=None, *a, **k):
        from .errors import reset_work
        from .progress import reset

        self.argv = list(sys.argv[1:] if args is None else args)
        reset_work()
        reset()
        return super().main(args, *a, **k)

    def leaf_command(self, argv: list[str]):
        """The (sub)command that ``argv`` names, or this group."""
        command = self
        for token in argv:
            if isinstance(command, click.Group) and token in command.commands:
                command = command.commands[token]
        return command

    def invoke(self, ctx):
        from .errors import EXIT_INTERRUPTED, exit_code

        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt:
            if debug_enabled():
                raise
            click.echo(interrupted_line(self.argv, self.leaf_command(self.argv)), err=True)
            raise click.exceptions.Exit(EXIT_INTERRUPTED) from None
        except Exception as exc:  # noqa: BLE001
            message = one_line(exc)
            if message is None or debug_enabled():
                raise
            error = click.ClickException(message)
            error.exit_code = exit_code(exc)
            raise error from None


@click.group(cls=DynodeGroup, context_settings={"help_option_names": ["-h", "--help"]},
             epilog=EPILOG)
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
    Console(markup=False).print(table)  # descriptions are shown literally ("[faces]")


@cli.command("list")
@click.argument("kind", required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_command(kind, as_json):
    """List registered components, of every kind or of KIND: each with its plugin, the
    distribution that installed it and the optional extra it needs (installed or not)."""
    from .listing import component_rows, component_table
    from .registry import KINDS

    if kind is not None and kind not in KINDS:
        raise click.BadParameter(f"unknown kind {kind!r}; valid kinds: {', '.join(KINDS)}",
                                 param_hint="KIND")
    rows = component_rows(kind)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console

    Console().print(component_table(rows))


def _load_commands() -> None:
    for module_name in COMMAND_MODULES:
        module = importlib.import_module(module_name)  # missing: a packaging error, raised
        for command in module.COMMANDS:
            cli.add_command(command)


def _plugin_commands() -> None:
    from .plugins import call_hooks, get_plugin_manager

    call_hooks(get_plugin_manager(), "register_commands", cli=cli)


_load_commands()


def _forget_the_interrupt() -> None:
    """The Ctrl-C was handled: let the process exit with 130, not by the signal.

    Under ``python -m``, CPython kills the process with SIGINT at exit when a
    KeyboardInterrupt ever ended a string ``exec``/``eval`` (a dataclass or namedtuple
    being built when Ctrl-C landed), even one that was caught; every string ``exec``
    clears that record first, so a harmless one clears it. Further Ctrl-Cs are ignored:
    the exit is under way."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    exec("pass", {})  # noqa: S102 - a constant string, see above


def main(argv=None) -> int:
    """Console entry point."""
    import warnings

    from .errors import EXIT_FAILURE, EXIT_INTERRUPTED
    from .plugins import PluginLoadWarning

    warnings.simplefilter("default", PluginLoadWarning)
    warnings.formatwarning = lambda msg, cat, *a, **k: f"warning: {msg}\n"
    if "--debug" in (sys.argv[1:] if argv is None else argv):
        os.environ["DYNODE_DEBUG"] = "1"
    try:
        _plugin_commands()
    except KeyboardInterrupt:
        _forget_the_interrupt()
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - strict plugin mode or a broken hook
        if debug_enabled():
            raise
        click.echo(f"Error: {one_line(exc) or f'{type(exc).__name__}: {exc}'}", err=True)
        return EXIT_FAILURE
    try:
        cli.main(args=argv, prog_name="dynode", standalone_mode=True)
    except SystemExit as exc:
        code = int(exc.code or 0)
        if code == EXIT_INTERRUPTED:
            _forget_the_interrupt()
        return code
    except KeyboardInterrupt:  # outside a command (while click parses, say)
        _forget_the_interrupt()
        return EXIT_INTERRUPTED
    return 0


if __name__ == "__main__":
    sys.exit(main())
