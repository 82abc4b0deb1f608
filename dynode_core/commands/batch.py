"""``dynode batch``: thin over :mod:`dynode_core.batch`."""

from __future__ import annotations

import click

from ..params import ComponentName, with_threads


@click.command("batch")
@with_threads
@click.argument("manifest", type=click.Path(dir_okay=False))
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="Folder of the run folders (one per video) and batch.json.")
@click.option("--executor", type=ComponentName("executors"), default="local", show_default=True,
              help="Where the videos run: local, ray, or a plugin's executor.")
@click.option("--address", help="Join this Ray cluster (auto or ray://HOST:PORT) instead of "
                                 "starting a local one.")
@click.option("--workers", type=click.IntRange(1),
              help="Videos at once [local: 1, in this process; ray: the cluster's CPUs].")
@click.option("--resume", is_flag=True,
              help="Skip finished runs and continue interrupted ones in --out.")
@click.option("--verbose", is_flag=True, help="A line of per-stage seconds per video.")
@click.option("--quiet", is_flag=True, help="No progress bar or table.")
@click.option("--json", "as_json", is_flag=True, help="Print batch.json to stdout.")
def batch(manifest, out, executor, address, workers, resume, verbose, quiet, as_json):
    """Run every video of MANIFEST (a TOML or CSV file: inputs, shared defaults and
    per-video overrides of any `dynode run` option), each into its own run folder
    under --out, identical to what `dynode run` writes for it. Exits 1 when any video
    failed; batch.json records every video's status, seconds, PSNR and error."""
    import json

    from rich.console import Console

    from ..batch import run_batch, summary_table

    console = Console(stderr=True)
    summary = run_batch(manifest, out, executor=executor, workers=workers, address=address,
                        resume=resume, progress=not (quiet or as_json), verbose=verbose,
                        console=console)
    if as_json:
        click.echo(json.dumps(summary.to_dict(), indent=2))
    elif not quiet:
        console.print(summary_table(summary))
        console.print(f"wrote {summary.folder / 'batch.json'}")
    if summary.failed:
        names = ", ".join(r.name for r in summary.failed)
        click.echo(f"Error: {len(summary.failed)} of {len(summary.results)} videos failed: "
                   f"{names}", err=True)
        raise SystemExit(1)


COMMANDS = [batch]
