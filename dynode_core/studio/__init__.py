"""``dynode studio``: a local page to choose and tune an edit on a finished run, and render it.

The page shows the input, the reconstruction and the current edit side by side on one
timeline; it lists the directions the run's generator offers and previews the frame
under the playhead as the controls change, from the run's own codes and fitted dynamics
(nothing is inverted or fitted again). Render adds the edit to the run
(:func:`dynode_core.run.add_edits`), exactly as ``dynode run --edit`` would have
written it. The server is the standard library's; the page is plain HTML and
JavaScript served from this package (no framework, nothing fetched from elsewhere).

    from dynode_core.studio import StudioServer
    server = StudioServer("runs/clip")          # 127.0.0.1, a free port
    print(server.url); server.serve_forever()
"""

from __future__ import annotations

from .server import StudioServer, find_runs

__all__ = ["StudioServer", "find_runs", "serve"]


def serve(root, *, port: int = 0, open_browser: bool = True, device: str = "cpu",
          directions=None, echo=print) -> None:
    """Serve the studio for ``root`` until Ctrl-C, then stop cleanly (a running render
    is cancelled; its run is left as it was)."""
    server = StudioServer(root, port, device=device, directions=directions)
    echo(f"dynode studio: {server.url}  (Ctrl-C stops it)")
    if open_browser:
        import webbrowser

        webbrowser.open(server.url)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        echo("dynode studio: stopped")
    finally:
        server.server_close()
