"""The render of one edit, in its own process (so that the page can cancel it):
``python -m dynode_core.studio.render RUN_DIR SPEC``. It adds the edit to the run with
:func:`dynode_core.run.add_edits` (the run's one-writer lock held throughout) and
prints one JSON object a line: ``{"stage": NAME, "done": K, "count": N}`` as stages
start, then ``{"file": "edited_NAME.mp4"}`` or ``{"error": ONE LINE}``."""

from __future__ import annotations

import json
import sys

from .. import hookimpl


class StageReporter:
    """A plugin that prints each stage of the run as it starts."""

    def __init__(self, count: int) -> None:
        self.count, self.done = count, 0

    @hookimpl
    def before_stage(self, stage):
        say({"stage": stage, "done": self.done, "count": self.count})
        self.done += 1


def say(message: dict) -> None:
    print(json.dumps(message), flush=True)


def main(argv: list[str]) -> int:
    from pathlib import Path

    from ..cli import one_line
    from ..plugins import get_plugin_manager
    from ..run import RunConfig, add_edits, run_stages

    folder, spec = argv
    try:
        manager = get_plugin_manager()
        stages = run_stages(manager)
        settings = stages.settings(RunConfig.from_toml(Path(folder) / "config.toml")
                                   .stage_options)
        manager.register(StageReporter(sum(s.is_active(settings) for s in stages)))
        result = add_edits(folder, [spec], progress=False, plugin_manager=manager)
    except Exception as exc:  # noqa: BLE001 - every failure becomes the page's one line
        message = one_line(exc)
        if message is None:
            raise
        say({"error": message})
        return 1
    name = list(result.edited)[-1]
    say({"file": f"edited_{name}.mp4"})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
