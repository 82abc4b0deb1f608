"""A plugin for the batch tests (loaded through DYNODE_PLUGINS): it kills the worker
process the first time a video whose run folder ends in ``-killme`` reaches ``invert``,
as the out-of-memory killer would."""

import os
from pathlib import Path

from dynode_core import hookimpl


@hookimpl
def before_stage(stage, context):
    folder = Path(context.config.out)
    flag = folder.parent / f"{folder.name}.killed"
    if stage == "invert" and folder.name.endswith("-killme") and not flag.exists():
        flag.write_text(str(os.getpid()))
        os._exit(3)
