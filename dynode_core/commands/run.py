"""``dynode run``: thin over :mod:`dynode_core.run`."""

from __future__ import annotations

import click

from ..params import DEVICE, ComponentName, Propagation


@click.command("run")
@click.argument("input", required=False)
@click.option("--generator", type=ComponentName("generators"), help="Generator [shapes64].")
@click.option("--checkpoint", type=click.Path(dir_okay=False), help="Generator weights file.")
@click.option("--encoder", help="Registered encoder name or encoder file.")
@click.option("--inverter", type=ComponentName("inverters"),
              help="Inverter [hybrid when an encoder exists, else optim].")
@click.option("--inversion-steps", type=click.IntRange(0), help="Optimisation steps per batch.")
@click.option("--dynamics", type=ComponentName("dynamics"), help="Dynamics model [ode].")
@click.option("--interpolate", type=click.IntRange(1), help="Frames per input interval [4].")
@click.option("--extrapolate", type=click.FloatRange(0), help="Seconds past the last frame.")
@click.option("--edit", "edits", multiple=True, help="EDITOR:DIRECTION[:STRENGTH]; repeatable.")
@click.option("--propagate", type=Propagation(),
              help="How the frame-0 edit reaches every frame [dynamics].")
@click.option("--crop", type=click.Choice(["center", "none"]), help="Frame crop policy [center].")
@click.option("--align", metavar="NAME[:OPTION]",
              help="Crop of each frame: center (follows --crop), face, box:X,Y,W,H, none [center].")
@click.option("--face-index", type=click.IntRange(0),
              help="--align face: which face to track, 0 = the largest [0].")
@click.option("--paste-back/--no-paste-back", default=None,
              help="Paste the rendered crops back into the input's frames [on for face, box].")
@click.option("--audio/--no-audio", default=None,
              help="Keep the input's audio in every full-length output [on].")
@click.option("--max-frames", type=click.IntRange(2), help="Use only the first N frames.")
@click.option("--gif/--no-gif", default=None,
              help="Also write a GIF preview of every video (at most 256 frames, 256 px).")
@click.option("--tune", type=ComponentName("tuners"),
              help="Tune the generator on the clip before fitting (pti).")
@click.option("--tune-steps", type=click.IntRange(1), help="The tuner's steps [its default].")
@click.option("--max-output-frames", type=click.IntRange(1),
              help="Refuse outputs longer than this [100000].")
@click.option("--out", type=click.Path(file_okay=False), help="Run folder [dynode-run].")
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="A config.toml (e.g. from an earlier run); options given here win.")
@click.option("--device", type=DEVICE, help="auto, cpu or cuda [auto].")
@click.option("--seed", type=int, help="Random seed [0].")
@click.option("--resume", is_flag=True, help="Continue an interrupted run in --out.")
@click.option("--overwrite", is_flag=True, help="Replace an earlier dynode run in --out.")
@click.option("--quiet", is_flag=True, help="No progress bars or summary.")
@click.option("--json", "as_json", is_flag=True, help="Print metrics.json to stdout.")
def run(input, config_path, resume, overwrite, quiet, as_json, edits, **options):
    """Turn INPUT (a video, GIF, frame folder or world:MOTION) into interpolated and edited
    videos with a report. With no INPUT, a clip of the bundled shapes world is used."""
    import json

    from ..run import RunConfig, run_pipeline

    options = {k: v for k, v in options.items() if v is not None}
    if input is not None:
        options["input"] = input
    if edits:
        options["edits"] = list(edits)
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
        from ..run.report import summary_table

        console.print(summary_table(result.metrics))
        console.print(f"wrote {result.folder}")


COMMANDS = [run]
