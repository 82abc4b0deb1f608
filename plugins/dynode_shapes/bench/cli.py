"""``dynode bench interpolate`` / ``dynode bench edit``: where latent dynamics beat the obvious
alternatives on the shapes world, and where they do not (tables, CSV, JSON, a PNG plot)."""

from __future__ import annotations

import click

from dynode_core.app import ComponentName, with_threads


class _Names(click.ParamType):
    """A comma-separated list of names (checked by the bench, which lists the valid ones)."""

    name = "names"

    def convert(self, value, param, ctx):
        if isinstance(value, (tuple, list)):
            return tuple(value)
        names = tuple(v.strip() for v in str(value).split(",") if v.strip())
        if not names:
            self.fail("give at least one name", param, ctx)
        return names


class _Ints(click.ParamType):
    """A comma-separated list of integers >= 2."""

    name = "ints"

    def convert(self, value, param, ctx):
        if isinstance(value, (tuple, list)):
            return tuple(value)
        try:
            values = tuple(int(v) for v in str(value).split(",") if v.strip())
        except ValueError:
            self.fail(f"expected comma-separated integers, got {value!r}", param, ctx)
        if not values or min(values) < 2:
            self.fail(f"expected integers >= 2, got {value!r}", param, ctx)
        return values


def _common(func):
    """Options both subcommands take."""
    options = [
        click.option("--generator", type=ComponentName("generators"), default="shapes64",
                     show_default=True, help="Generator to invert into and render with."),
        click.option("--checkpoint", type=click.Path(exists=True, dir_okay=False), default=None,
                     help="Weights file, for generators that need one."),
        click.option("--motions", type=_Names(), default="circle,spin", show_default=True,
                     help="World motions, comma separated (see `dynode world --help`)."),
        click.option("--frames", type=click.IntRange(min=3), default=33, show_default=True,
                     help="Frames of each ground-truth clip."),
        click.option("--fps", type=click.FloatRange(min=0, min_open=True), default=25.0,
                     show_default=True),
        click.option("--methods", type=_Names(), default=None,
                     help="Methods, comma separated [default: every registered dynamics, "
                          "nearest-frame, crossfade and inverted-heldout]."),
        click.option("--inverter", type=ComponentName("inverters"), default=None,
                     help="Inverter [default: e4e with the generator's encoder, else optim]."),
        click.option("--inversion-steps", type=click.IntRange(min=1), default=None,
                     help="Optimisation steps of the optim / hybrid inverters."),
        click.option("-o", "--option", "options", multiple=True, metavar="METHOD.KEY=VALUE",
                     help="Dynamics option, repeatable: ode.iterations=100, "
                          "dynode-paper.time_budget=60 [dynode-paper gets time_budget=15 "
                          "unless given]."),
        click.option("--out", type=click.Path(file_okay=False), required=True,
                     help="Folder for the CSV, JSON, markdown and PNG."),
        click.option("--overwrite", is_flag=True, help="Replace the files of an existing --out."),
        click.option("--seed", type=int, default=0, show_default=True),
        click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="cpu",
                     show_default=True),
        click.option("--quick", is_flag=True,
                     help="A tiny configuration (circle, 13 frames, every 4th, linear + ode with "
                          "few iterations); options given explicitly still apply."),
        click.option("--quiet", is_flag=True, help="No progress bar and no tables."),
    ]
    for option in reversed(options):
        func = option(func)
    return with_threads(func)


def _method_options(items) -> dict:
    from dynode_core.app import parse_options

    out: dict = {}
    for key, value in parse_options(items, "--option").items():
        method, dot, option = key.partition(".")
        if not dot or not option:
            raise click.BadParameter(f"expected METHOD.KEY=VALUE, got {key!r}",
                                     param_hint="--option")
        out.setdefault(method, {})[option] = value
    return out


def _command_line(ctx) -> str:
    """The command as typed, rebuilt from the options given on the command line."""
    import shlex

    from click.core import ParameterSource

    words = ctx.command_path.split()
    words[0] = "dynode"
    for param in ctx.command.params:
        if ctx.get_parameter_source(param.name) != ParameterSource.COMMANDLINE:
            continue
        flag = max(param.opts, key=len)
        value = ctx.params[param.name]
        if param.is_flag:
            words.append(flag)
        elif param.multiple:
            for item in value:
                words += [flag, str(item)]
        else:
            words += [flag, ",".join(map(str, value)) if isinstance(value, tuple) else str(value)]
    return shlex.join(words)


def _config(ctx, **given):
    from click.core import ParameterSource

    from .interpolate import QUICK
    from .common import BenchConfig

    values = {k: v for k, v in given.items() if v is not None or k != "reference_steps"}
    values["options"] = _method_options(given["options"])
    if ctx.params.get("quick"):
        for key, value in QUICK.items():
            if key == "options":
                for method, opts in value.items():
                    values["options"].setdefault(method, {})
                    values["options"][method] = {**opts, **values["options"][method]}
            elif ctx.get_parameter_source(key) != ParameterSource.COMMANDLINE:
                values[key] = value
    return BenchConfig(**values)


def _run(ctx, task: str, runner, plot, config, out, overwrite, quiet) -> None:
    import os
    import time
    from dataclasses import asdict

    from .common import FORMAT
    from .report import add_comparisons, check_outputs, print_tables, write_outputs
    from dynode_core.app import Progressor
    from dynode_core.app import versions

    paths = check_outputs(out, task, overwrite)
    start = time.perf_counter()
    with Progressor(enabled=not quiet) as bar:
        rows = runner(config, progress=bar.task(f"bench {task}"))
    add_comparisons(rows)
    meta = {"format": FORMAT, "task": task, "command": _command_line(ctx),
            "config": asdict(config), "seconds": round(time.perf_counter() - start, 1),
            "load_average": list(os.getloadavg()), "versions": versions()}
    write_outputs(paths, rows, meta, plot)
    if not quiet:
        print_tables(rows)
    click.echo(f"wrote {', '.join(str(p) for p in paths.values())} ({len(rows)} rows, "
               f"{meta['seconds']:.0f} s)")


@click.group("bench")
def bench():
    """Benchmarks on the shapes world: where latent dynamics beat simple baselines."""


@bench.command("interpolate")
@_common
@click.option("--every", type=_Ints(), default="2,4,8", show_default=True,
              help="Sparsities: observe every k-th frame, for each k.")
@click.option("--irregular", is_flag=True,
              help="Also a seeded irregular subset of as many frames per sparsity.")
@click.option("--no-extrapolate", "no_extrapolate", is_flag=True,
              help="Skip the extrapolation task (fit on 75%, predict the last 25%).")
@click.option("--reference-steps", type=click.IntRange(min=1), default=None,
              help="Optimisation steps of inverted-heldout, at least (and no fewer than the "
                   "observed frames' inverter takes): each held-out frame inverted on its own, "
                   "e4e refined by hybrid [default: 200 (REFERENCE_STEPS)].")
@click.pass_context
def interpolate(ctx, out, overwrite, quiet, quick, no_extrapolate, **given):
    """Predict held-out frames from every k-th one: every dynamics against pixel baselines
    and the held-out frames' own inversions; and extrapolate the last 25% of each clip."""
    from .interpolate import run_interpolate
    from .report import plot_interpolation

    config = _config(ctx, **given, extrapolate=not no_extrapolate)
    _run(ctx, "interpolate", run_interpolate, plot_interpolation, config, out, overwrite, quiet)


@bench.command("edit")
@_common
@click.option("--edits", type=_Names(), default="hue,size", show_default=True,
              help="World edits of frame 0 (hue: +0.25 turn, size: x1.3).")
@click.option("--samples", type=click.IntRange(min=8), default=256, show_default=True,
              help="Labelled generator samples behind a fitted edit direction.")
@click.option("--cache", type=click.Path(file_okay=False), default=None,
              help="Folder caching fitted directions [default: ~/.cache/dynode/bench].")
@click.pass_context
def edit(ctx, out, overwrite, quiet, quick, **given):
    """Edit frame 0 (world edits hue and size) and propagate with every strategy; score
    against the exactly rendered edited video (PSNR, flicker, motion error)."""
    from .edit import run_edit
    from .report import plot_edit

    _run(ctx, "edit", run_edit, plot_edit, _config(ctx, **given), out, overwrite, quiet)

