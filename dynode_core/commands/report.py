"""``dynode report``: rebuild a run folder's ``report.html`` from its files."""

from __future__ import annotations

import click


@click.command("report")
@click.argument("run_dir", type=click.Path(file_okay=False))
def report(run_dir):
    """Write RUN_DIR/report.html again from the run folder's own files (metrics.json,
    config.toml, the videos and plots); open it in a browser."""
    from ..run import write_report

    click.echo(f"wrote {write_report(run_dir)}")


COMMANDS = [report]
