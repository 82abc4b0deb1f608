"""The studio's HTTP server (the standard library's ``http.server``, one thread a request).

Safety rules, each checked on every request before anything else:

- it listens on 127.0.0.1 only, and every path starts with a random token
  (``/TOKEN/...``); a request without it gets 404;
- a ``Host`` header other than the server's own (``127.0.0.1:PORT`` or
  ``localhost:PORT``) or an ``Origin`` other than its own is refused (403): a page of
  another site that renamed itself to 127.0.0.1 (DNS rebinding) cannot talk to it;
- files are served only from inside the run folders, resolved (no ``..``, no link
  that leads out, no hidden files), and the page's own assets from the package;
- the only request that writes is ``POST /TOKEN/api/render`` (JSON), which adds an edit
  to a run through :func:`dynode_core.run.add_edits` in a child process;
- every parameter is checked as ``dynode run`` checks it (:mod:`.params`); a refusal
  or a failure is a one-line JSON error, and the server keeps running.
"""

from __future__ import annotations

import hmac
import json
import mimetypes
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from ..errors import DynodeError, InputError, OutputError
from .files import Refused, byte_range
from .jobs import RenderJob
from .routes import route

#: Largest JSON body the server reads.
MAX_BODY = 64 * 1024
HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
           "Cache-Control": "no-store", "X-Frame-Options": "DENY",
           "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; "
                                      "media-src 'self'; frame-ancestors 'none'"}


def find_runs(root: Path) -> dict[str, Path]:
    """``{id: folder}``: the root itself when it is a finished run, else the finished
    runs directly inside it (a ``dynode batch`` folder)."""
    def finished(folder: Path) -> bool:
        return (folder / ".dynode-run").is_file() and (folder / "metrics.json").is_file()

    root = root.resolve()
    if finished(root):
        return {root.name: root}
    runs = {p.name: p for p in sorted(root.iterdir()) if p.is_dir() and finished(p)} \
        if root.is_dir() else {}
    if not runs:
        raise InputError(f"{root} is not a finished dynode run, nor a folder of runs "
                         "(a `dynode batch` --out)")
    return runs


class StudioServer(ThreadingHTTPServer):
    """The studio for ``root`` (a run folder or a folder of runs) on 127.0.0.1:``port``."""

    daemon_threads = True

    def __init__(self, root, port: int = 0, *, device: str = "cpu",
                 directions=None) -> None:
        self.runs = find_runs(Path(root))
        self.token = secrets.token_urlsafe(24)
        self.device, self.directions = device, directions
        self.job = RenderJob()
        self._sessions: dict = {}
        self._loading = threading.Lock()
        try:
            super().__init__(("127.0.0.1", port), Handler)
        except OSError as exc:
            raise OutputError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}; "
                              "choose another --port (0: a free one)") from None

    @property
    def port(self) -> int:
        return self.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{self.token}/"

    def own_hosts(self) -> set[str]:
        return {f"127.0.0.1:{self.port}", f"localhost:{self.port}"}

    def run_folder(self, run_id: str | None) -> Path:
        if run_id is None and len(self.runs) == 1:
            return next(iter(self.runs.values()))
        if run_id not in self.runs:
            raise InputError(f"no run {run_id!r} here; runs: {', '.join(self.runs)}")
        return self.runs[run_id]

    def session(self, run_id: str | None):
        """The loaded :class:`RunSession` of a run (loaded on first use)."""
        from .session import RunSession

        folder = self.run_folder(run_id)
        with self._loading:
            if folder not in self._sessions:
                self._sessions[folder] = RunSession(folder, self.device, self.directions)
            return self._sessions[folder]

    def server_close(self) -> None:
        self.job.close()
        super().server_close()


class Handler(BaseHTTPRequestHandler):
    server: StudioServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass

    # ---------------------------------------------------------------- checks
    def _checked_path(self) -> tuple[str, dict]:
        """The path after the token and the query, once Host, Origin and token passed."""
        server = self.server
        if self.headers.get("Host", "") not in server.own_hosts():
            raise Refused(403, "refused: the Host header is not this server's")
        origin = self.headers.get("Origin")
        if origin is not None and origin not in {f"http://{h}" for h in server.own_hosts()}:
            raise Refused(403, "refused: the Origin is not this server's")
        parts = urlsplit(self.path)
        token, _, rest = parts.path.lstrip("/").partition("/")
        if not hmac.compare_digest(token.encode(), server.token.encode()):
            raise Refused(404, "not found")
        return rest, parse_qs(parts.query, keep_blank_values=False)

    def _handle(self, method: str) -> None:
        try:
            rest, query = self._checked_path()
            route(self, method, rest, query)
        except Refused as exc:
            self.send_json({"error": str(exc)}, exc.status)
        except DynodeError as exc:
            self.send_json({"error": str(exc)}, 400)
        except BrokenPipeError:
            pass

    def do_GET(self):  # noqa: N802 - the base class's name
        self._handle("GET")

    def do_HEAD(self):  # noqa: N802
        self.send_json({"error": "use GET"}, 405)

    def do_POST(self):  # noqa: N802
        self._handle("POST")

    # ---------------------------------------------------------------- replies
    def send_bytes(self, data: bytes, content_type: str, status: int = 200,
                   extra: dict | None = None) -> None:
        self.send_response(status)
        for key, value in {**HEADERS, **(extra or {})}.items():
            self.send_header(key, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def send_json(self, value, status: int = 200) -> None:
        self.send_bytes(json.dumps(value).encode(), "application/json", status)

    def send_file(self, path: Path) -> None:
        """A file, or the byte range the request asks for (206)."""
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        data = path.read_bytes()
        part = byte_range(self.headers.get("Range"), len(data))
        if part is None:
            return self.send_bytes(data, kind, extra={"Accept-Ranges": "bytes"})
        start, end = part
        self.send_bytes(data[start:end + 1], kind, 206,
                        {"Accept-Ranges": "bytes",
                         "Content-Range": f"bytes {start}-{end}/{len(data)}"})

    def read_json(self) -> dict:
        if self.headers.get_content_type() != "application/json":
            raise Refused(415, "refused: send application/json")
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 < length <= MAX_BODY:
            raise Refused(413, "refused: the request body is empty or too large")
        try:
            return json.loads(self.rfile.read(length))
        except ValueError:
            raise InputError("the request body is not JSON") from None
