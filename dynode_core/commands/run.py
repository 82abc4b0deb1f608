"""``dynode run``: thin over :mod:`dynode_core.run`.

The core's options are declared here; every stage's own settings (``--tune``,
``--align``, a plugin stage's option) are added from the stages' declarations when the
command is first asked for its parameters, so a plugin stage's option shows in
``dynode run --help`` and reaches the run like the core's.
"""

from __future__ import annotations

import click

from ..params import DEVICE, PRECISION, PRECISION_HELP, ComponentName, Number, Propagation
from ..run import NUMBERS


def number(name: str) -> Number:
    """The flag type of a numeric run setting, from the run's one table of ranges."""
    return Number(*NUMBERS[name])

STAGE_PREFIX = "stage__"


def stage_option(option) -> click.Option:
    """The click option for a stage's declared :class:`~dynode_core.StageOption`."""
    kinds = {int: click.INT, float: click.FLOAT, str: click.STRING}
    dest = STAGE_PREFIX + option.name
    if option.kind is bool:
        flag = option.flag
        return click.Option([f"{flag}/--no-{flag[2:]}", dest], default=None, help=option.help)
    if option.component is not None:
        kind = ComponentName(option.component)
    elif option.choices:
        kind = click.Choice(option.choices)
    elif option.kind in (int, float):
        kind = Number(option.kind, option.minimum, option.maximum)
    else:
        kind = kinds[option.kind]
    return click.Option([option.flag, dest], type=kind, default=None, help=option.help)


class StagedCommand(click.Command):
    """A command whose parameters end with the run's stages' declared options."""

    def get_params(self, ctx):
        if not getattr(self, "_staged", False):
            from ..run import run_stages

            self._staged = True
            taken = {opt for p in self.params for opt in getattr(p, "opts", [])}
            for _, option in run_stages().options().values():
                if option.flag not in taken:
                    self.params.append(stage_option(option))
        return super().get_params(ctx)


@click.command("run", cls=StagedCommand)
@click.argument("input", required=False)
@click.option("--generator", type=ComponentName("generators"), help="Generator [shapes64].")
@click.option("--checkpoint", type=click.Path(dir_okay=False), help="Generator weights file.")
@click.option("--encoder", help="Registered encoder name or encoder file.")
@click.option("--inverter", type=ComponentName("inverters"),
              help="Inverter [hybrid when an encoder exists, else optim].")
@click.option("--inversion-steps", type=number("inversion_steps"),
              help="Optimisation steps per batch.")
@click.option("--dynamics", type=ComponentName("dynamics"), help="Dynamics model [ode].")
@click.option("--interpolate", type=number("interpolate"),
              help="Frames per input interval [4].")
@click.option("--extrapolate", type=number("extrapolate"), help="Seconds past the last frame.")
@click.option("--edit", "edits", multiple=True, help="EDITOR:DIRECTION[:STRENGTH]; repeatable.")
@click.option("--propagate", type=Propagation(),
              help="How the frame-0 edit reaches every frame [offset].")
@click.option("--crop", type=click.Choice(["center", "none"]), help="Frame crop policy [center].")
@click.option("--audio/--no-audio", default=None,
              help="Keep the input's audio in every full-length output [on].")
@click.option("--max-frames", type=number("max_frames"), help="Use only the first N frames.")
@click.option("--gif/--no-gif", default=None,
              help="Also write a GIF preview of every video (at most 256 frames, 256 px).")
@click.option("-o", "--option", "component_options", multiple=True, metavar="KIND.KEY=VALUE",
              help="A component's option, repeatable: dynamics.iterations=300, "
                   "inverter.lr=0.02, tuner.locality=0.1, generator.network=G.")
@click.option("--max-output-frames", type=number("max_output_frames"),
              help="Refuse outputs longer than this [100000].")
@click.option("--out", type=click.Path(file_okay=False), help="Run folder [dynode-run].")
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="A config.toml (e.g. from an earlier run); options given here win.")
@click.option("--device", type=DEVICE, help="auto, cpu or cuda [auto].")
@click.option("--threads", type=number("threads"),
              help="Torch threads [$DYNODE_THREADS, else torch's default].")
@click.option("--precision", type=PRECISION, help=PRECISION_HELP)
@click.option("--seed", type=number("seed"), help="Random seed [0].")
@click.option("--resume", is_flag=True, help="Continue an interrupted run in --out.")
@click.option("--overwrite", is_flag=True, help="Replace an earlier dynode run in --out.")
@click.option("--quiet", is_flag=True, help="No progress bars or summary.")
@click.option("--json", "as_json", is_flag=True, help="Print metrics.json to stdout.")
def run(input, config_path, resume, overwrite, quiet, as_json, edits, component_options,
        **options):
    """Turn INPUT (a video, GIF, frame folder or world:MOTION) into interpolated and edited
    videos with a report. With no INPUT, a clip of the bundled shapes world is used."""
    import json

    from ..run import RunConfig, parse_component_options, run_pipeline

    options = {k.removeprefix(STAGE_PREFIX): v for k, v in options.items() if v is not None}
    if input is not None:
        options["input"] = input
    if edits:
        options["edits"] = list(edits)
    if component_options:
        options["component_options"] = parse_component_options(component_options)
    config = RunConfig.from_toml(config_path, **options) if config_path else RunConfig(**options)
    console = None
    if as_json or quiet:
        progress = False
    else:
        from rich.console import Console

        console = Console(stderr=True)
        progress = True
    result = run_pipeline(config, resume=resume, overwrite=overwrite, progress=progress,
                          console=console)
    if as_json:
        click.echo(json.dumps(result.metrics, indent=2, default=str))
    elif not quiet:
        from ..run import summary_table

        console.print(summary_table(result.metrics))
        console.print(f"wrote {result.folder}")


COMMANDS = [run]
