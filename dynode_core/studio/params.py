"""The page's parameters, checked with the rules ``dynode run`` applies to the same
settings: an edit is ``EDITOR:DIRECTION[:STRENGTH]`` whose direction the run's generator
resolves (finite strength), a propagation is one of :data:`PROPAGATIONS` (``cde`` only
for controlled dynamics), the interpolation factor an integer >= 1 whose video passes
the output-size check, paste-back only for a run that was aligned. Every refusal is one
line (an :class:`InputError`), shown on the page."""

from __future__ import annotations

from ..errors import InputError
from .session import PreviewRequest, RunSession

#: The most directions one edit combines on the page.
MAX_EDITS = 8


def _one(query: dict, name: str, default=None) -> str | None:
    values = query.get(name)
    if not values:
        return default
    if len(values) != 1:
        raise InputError(f"give {name} once, got {len(values)} values")
    return values[0]


def _integer(text: str | None, name: str, default: int) -> int:
    if text is None:
        return default
    try:
        return int(text)
    except ValueError:
        raise InputError(f"{name} must be an integer, got {text!r}") from None


def _boolean(text: str | None, name: str, default: bool) -> bool:
    if text is None:
        return default
    if text not in ("0", "1", "true", "false"):
        raise InputError(f"{name} must be true or false, got {text!r}")
    return text in ("1", "true")


def check_edits(session: RunSession, specs) -> tuple[str, ...]:
    """The edit specs, each parsed and its direction resolved against the run's
    generator as ``dynode run --edit`` does (normalised ``EDITOR:DIRECTION:STRENGTH``)."""
    from ..edits import parse_edit

    specs = [s for s in specs if s]
    if len(specs) > MAX_EDITS:
        raise InputError(f"at most {MAX_EDITS} directions at once, got {len(specs)}")
    checked = []
    for spec in specs:
        parsed = parse_edit(spec)
        session.resolved(str(parsed))
        checked.append(str(parsed))
    return tuple(checked)


def check_propagate(session: RunSession, name: str) -> str:
    from ..edits import PROPAGATIONS

    if name not in PROPAGATIONS:
        raise InputError(f"unknown propagation {name!r}; valid propagations: "
                         f"{', '.join(PROPAGATIONS)}")
    if name == "cde" and not session.dynamics.controlled:
        raise InputError(f"--propagate cde needs controlled dynamics (the 'cde' model), but "
                         f"this run's dynamics ({session.config.dynamics}) are not")
    return name


def check_interpolate(session: RunSession, factor: int) -> int:
    """The factor, checked as a run's ``interpolate`` setting is (its range), and its
    video against the output-size limit."""
    from .. import RunConfig
    from ..run import check_output_size

    RunConfig.from_toml(session.folder / "config.toml", interpolate=factor)
    generator = session.generator
    check_output_size(factor * (len(session.trajectory) - 1) + 1, num_ws=generator.num_ws,
                      latent_dim=generator.latent_dim, resolution=generator.resolution,
                      folder=session.folder, limit=session.config.max_output_frames,
                      what="--interpolate's video")
    return factor


def preview_request(session: RunSession, query: dict) -> PreviewRequest:
    """A :class:`PreviewRequest` from a query string (``urllib.parse.parse_qs``)."""
    edits = check_edits(session, query.get("edit", []))
    propagate = check_propagate(session, _one(query, "propagate", session.config.propagate))
    factor = check_interpolate(session, _integer(_one(query, "interpolate"), "interpolate",
                                                 session.config.interpolate))
    last = factor * (len(session.trajectory) - 1)
    index = _integer(_one(query, "index"), "index", 0)
    if not 0 <= index <= last:
        raise InputError(f"index must be between 0 and {last}, got {index}")
    paste_back = _boolean(_one(query, "paste_back"), "paste_back", session.pasted)
    if paste_back and session.alignment is None:
        raise InputError("paste-back needs a run that was aligned (--align face or box)")
    return PreviewRequest(edits, propagate, factor, index, paste_back)


def render_edit(session: RunSession, body: dict) -> str:
    """The one edit a render adds, checked: it must be expressible as ``dynode run
    --edit`` on this run (one direction, the run's propagation and paste-back: those are
    the run's own settings, shared by all its edits). The interpolation factor is the
    preview's timeline only: a run's edited videos have the input's frames."""
    if not isinstance(body, dict):
        raise InputError("a render request is a JSON object")
    edits = check_edits(session, body.get("edits") or [])
    if len(edits) != 1:
        raise InputError(f"a render writes one edit (one direction, as `dynode run --edit`), "
                         f"got {len(edits)}; keep one direction")
    config = session.config
    wanted = {"propagate": (body.get("propagate", config.propagate), config.propagate),
              "paste_back": (body.get("paste_back", session.pasted), session.pasted)}
    for name, (given, own) in wanted.items():
        if given != own:
            raise InputError(f"this run's {name} is {own!r}; a render adds an edit to it with "
                             f"the run's own {name} (got {given!r}): set it back, or start a "
                             f"new `dynode run` with that setting")
    return edits[0]
