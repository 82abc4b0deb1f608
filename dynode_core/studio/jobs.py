"""The page's render job: one at a time per server, in a child process that the page
can cancel (terminated; the run's lock goes with the process and every file is written
atomically, so a cancelled render leaves the run as it was)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

from ..errors import InputError


class RenderJob:
    """The state of the last render: ``running``, ``done``, ``failed`` or ``cancelled``,
    the stage it is in, and its file or one-line error."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self.state: dict = {"status": "idle"}

    def start(self, folder: Path, spec: str) -> dict:
        with self._lock:
            if self.state["status"] == "running":
                raise InputError("a render is running already; wait for it or cancel it")
            if self._process is not None:
                self._process.wait()  # finished its work; exiting
            command = [sys.executable, "-m", "dynode_core.studio.render", str(folder), spec]
            self._process = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                stdin=subprocess.DEVNULL, env={**os.environ, "PYTHONUNBUFFERED": "1"})
            self.state = {"status": "running", "edit": spec, "run": str(folder),
                          "stage": "starting", "done": 0, "count": 0}
            threading.Thread(target=self._follow, args=(self._process,), daemon=True).start()
            return dict(self.state)

    def _follow(self, process: subprocess.Popen) -> None:
        for line in process.stdout:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            with self._lock:
                if process is self._process and self.state["status"] == "running":
                    self._update(message)
        process.wait()
        stderr = process.stderr.read().strip().splitlines()
        with self._lock:
            if process is self._process and self.state["status"] == "running":
                reason = stderr[-1] if stderr else f"exit status {process.returncode}"
                self.state.update(status="failed", error=f"the render failed: {reason}")

    def _update(self, message: dict) -> None:
        if "stage" in message:
            self.state.update(stage=message["stage"], done=message["done"],
                              count=message["count"])
        elif "file" in message:
            self.state.update(status="done", file=message["file"], done=self.state["count"])
        elif "error" in message:
            self.state.update(status="failed", error=message["error"])

    def cancel(self) -> dict:
        with self._lock:
            process = self._process
            if self.state["status"] != "running":
                raise InputError("no render is running")
            self.state.update(status="cancelled")
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        return self.status()

    def status(self) -> dict:
        with self._lock:
            return dict(self.state)

    def close(self) -> None:
        """Stop a running render (the server is going away)."""
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            process.wait()
