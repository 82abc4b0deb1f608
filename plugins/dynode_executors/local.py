"""The ``local`` executor: this machine, sequential or with a pool of worker processes.

With one worker (the default) the videos run one after another in this process, with
torch's own thread count, exactly like ``dynode run``. With ``workers=N`` each of N
spawned processes builds one :class:`dynode_core.BatchWorker` (threads = CPUs // N)
and takes videos one at a time over a pipe; a process that dies (killed, out of
memory) is replaced and its video given to another worker once.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import wait

from dynode_core import BatchWorker, Executor, InputError, JobResult

from .common import MAX_ATTEMPTS, available_cpus, threads_per_worker


def serve(conn, threads) -> None:
    """A worker process: one BatchWorker, jobs in, results out, until ``None``."""
    worker = BatchWorker(threads)
    conn.send(("ready", worker.id))
    while True:
        job = conn.recv()
        if job is None:
            return
        conn.send(("result", worker.run(job)))


@dataclass
class _Process:
    process: multiprocessing.Process
    conn: object
    job: object = None
    ready: bool = False


class LocalExecutor(Executor):
    """This machine; ``workers`` processes (1: this process), CPUs split between them."""

    def __init__(self, workers: int | None = None, address: str | None = None) -> None:
        if address is not None:
            raise InputError("--address joins a cluster: use it with --executor ray")
        if workers is not None and workers < 1:
            raise InputError(f"--workers must be >= 1, got {workers}")
        self.workers = workers or 1
        self.threads = None if self.workers == 1 else \
            threads_per_worker(available_cpus(), self.workers)
        self._pool: list[_Process] = []
        self._failed_starts = 0
        self._context = multiprocessing.get_context("spawn")  # no fork of a threaded torch

    def run(self, jobs):
        if self.workers == 1:
            yield from self._sequential(jobs)
        else:
            yield from self._parallel(list(jobs))

    def _sequential(self, jobs):
        worker = BatchWorker(self.threads)
        try:
            for job in jobs:
                yield worker.run(job)
        finally:
            worker.close()

    # ------------------------------------------------------------------ the pool
    def _start(self) -> _Process:
        parent, child = self._context.Pipe()
        process = self._context.Process(target=serve, args=(child, self.threads), daemon=True)
        process.start()
        child.close()
        slot = _Process(process, parent)
        self._pool.append(slot)
        return slot

    def _receive(self, slot: _Process):
        """A message from ``slot``, or None when its process died."""
        try:
            if slot.conn.poll():
                return slot.conn.recv()
        except (EOFError, OSError):
            return None
        return ("busy", None) if slot.process.is_alive() else None

    def _parallel(self, jobs):
        queue, attempts = deque(jobs), {job.index: 0 for job in jobs}
        for _ in range(min(self.workers, len(jobs))):
            self._start()
        idle: list[_Process] = []
        while queue or any(slot.job is not None for slot in self._pool):
            for slot in idle:
                if queue:
                    slot.job = queue.popleft()
                    attempts[slot.job.index] += 1
                    slot.conn.send(slot.job)
            idle = []
            ready = wait([s.conn for s in self._pool] + [s.process.sentinel for s in self._pool])
            for slot in [s for s in self._pool if s.conn in ready or s.process.sentinel in ready]:
                message = self._receive(slot)
                if message is None:
                    yield from self._died(slot, queue, attempts)
                    if queue:
                        self._start()  # the replacement says "ready" and joins the idle
                elif message[0] == "ready":
                    slot.ready = True
                    idle.append(slot)
                elif message[0] == "result":
                    result, slot.job = message[1], None
                    result.attempts = attempts[result.index]
                    idle.append(slot)
                    yield result
        self.close()

    def _died(self, slot: _Process, queue, attempts):
        self._pool.remove(slot)
        slot.process.join(timeout=5)
        job, code = slot.job, slot.process.exitcode
        if not slot.ready:  # it could not even start: every start would fail alike
            self._failed_starts += 1
            if self._failed_starts >= MAX_ATTEMPTS:
                while queue:
                    yield JobResult.died(queue.popleft(), "worker processes exit at start "
                                         f"(code {code})", attempts=0)
        if job is None:
            return
        if attempts[job.index] < MAX_ATTEMPTS:
            queue.appendleft(job.retried())
        else:
            yield JobResult.died(job, f"worker process exited with code {code}",
                                 attempts=attempts[job.index])

    def close(self) -> None:
        for slot in self._pool:
            try:
                slot.conn.send(None)
            except (OSError, BrokenPipeError):
                pass
        for slot in self._pool:
            slot.process.join(timeout=10)
            if slot.process.is_alive():
                slot.process.terminate()
                slot.process.join()
        self._pool = []
