"""``dynode studio``: a local page to choose, tune and render an edit of a finished run."""

from __future__ import annotations

import click

from ..params import DEVICE


@click.command("studio")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="Port on 127.0.0.1 (0: a free one).")
@click.option("--no-browser", is_flag=True, help="Print the URL only; open no browser.")
@click.option("--directions", "directions", type=click.Path(exists=True, file_okay=False),
              default=None, help="A folder of direction files (.pt, .pth, .npy) to offer too.")
@click.option("--device", type=DEVICE, default="cpu", show_default=True,
              help="Device of the previews.")
def studio(run_dir, port, no_browser, directions, device):
    """Open RUN_DIR (a finished `dynode run`, or a `dynode batch` folder of runs) in a local
    page: pick directions and strengths, preview the frame under the playhead, and render
    the edit into the run as `dynode run --edit` would. Serves 127.0.0.1 only."""
    from ..device import resolve_device
    from ..studio import serve

    serve(run_dir, port=port, open_browser=not no_browser, device=resolve_device(device),
          directions=directions, echo=click.echo)


COMMANDS = [studio]
