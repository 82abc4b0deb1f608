"""What the studio serves from disk: the page's assets and files inside run folders."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

STATIC = Path(__file__).with_name("static")


class Refused(Exception):
    """A request the server will not answer: (HTTP status, one line)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def inside(folder: Path, relative: str) -> Path:
    """``folder / relative`` when that is a plain file inside ``folder`` (resolved, links
    followed, no hidden part), else :class:`Refused` 404."""
    relative = unquote(relative)
    parts = Path(relative).parts
    if not relative or relative.startswith("/") or any(p in ("..", ".") or p.startswith(".")
                                                       for p in parts):
        raise Refused(404, "not found")
    path = (folder / relative).resolve()
    if not path.is_relative_to(folder.resolve()) or not path.is_file():
        raise Refused(404, "not found")
    return path


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The (first, last) bytes of a single ``Range: bytes=A-B`` (or ``A-`` / ``-N``) within
    a file of ``size`` bytes, None without one; :class:`Refused` 416 when unsatisfiable.
    (Browsers seek in a video only when its server answers ranges.)"""
    if not header:
        return None
    unit, _, spec = header.partition("=")
    first, dash, last = spec.strip().partition("-")
    try:
        if unit.strip() != "bytes" or not dash or "," in spec:
            raise ValueError
        if first == "":
            start, end = max(0, size - int(last)), size - 1
        else:
            start, end = int(first), min(size - 1, int(last)) if last else size - 1
    except ValueError:
        raise Refused(416, "refused: give one byte range") from None
    if start > end or start >= size:
        raise Refused(416, "refused: the range is outside the file")
    return start, end
