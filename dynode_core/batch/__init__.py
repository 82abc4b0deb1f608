"""``dynode batch`` as a Python API: many videos, each in its own run folder.

    from dynode_core import run_batch
    summary = run_batch("videos.toml", "runs/", executor="ray", workers=4)
    print([(r.name, r.status, r.psnr) for r in summary.results])

:mod:`.manifest` reads and checks a TOML/CSV manifest; :mod:`.jobs` holds the job,
its result and the :class:`BatchWorker` that executors run in each worker;
:mod:`.driver` plans the run folders (``--resume``) and drives an executor (a
registered plugin component, :class:`dynode_core.Executor`); :mod:`.summary` writes
``batch.json`` and the table. Each run folder is what ``dynode run`` writes for the
same config: the batch calls :func:`dynode_core.run_pipeline` with it.
"""

from .driver import create_executor, plan_batch, run_batch
from .jobs import BatchJob, BatchWorker, JobResult, one_line
from .manifest import BatchEntry, read_manifest
from .summary import BatchSummary, summary_table

__all__ = ["BatchEntry", "BatchJob", "BatchSummary", "BatchWorker", "JobResult",
           "create_executor", "one_line", "plan_batch", "read_manifest", "run_batch",
           "summary_table"]
