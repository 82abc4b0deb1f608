"""The contracts every component kind implements.

They are abstract base classes: a component subclasses its kind's class, which
checks the required methods at instantiation and declares the optional
capabilities with their defaults (``Dynamics.controlled``, ``Dynamics.stochastic``
and ``sample``, ``Dynamics.fit_stats``, ``Generator.named_directions()``,
``Inverter.config`` ...). The core reads capabilities only through these
declarations, never by probing names or attributes; :func:`require` checks a
component once where it enters a run. The conformance checks in
:mod:`dynode_core.testing` verify the behaviour.
"""

from __future__ import annotations

import abc
import types
from dataclasses import dataclass
from typing import Callable, Iterator

import torch

from .trajectory import LatentTrajectory

#: Progress callback: ``progress(advance, total=None, description=None)``. ``advance``
#: is how many units were finished since the last call (it adds, it never sets the
#: count); ``total`` (when known) and ``description`` replace the task's total and label.
Progress = Callable[..., None]


def no_progress(*_args, **_kwargs) -> None:
    """A progress callback that does nothing."""


class Generator(abc.ABC, torch.nn.Module):
    """A pretrained image generator with a style-based latent space.

    Attributes: ``latent_dim`` (D), ``num_ws`` (layers of W+), ``resolution``
    (pixels, square), ``c_dim`` (the size of the class label ``mapping`` takes; 0 for an
    unconditional model) and ``name`` (the registered name it was built under, when
    its factory sets one in its constructor; recorded with inverted codes).
    """

    latent_dim: int
    num_ws: int
    resolution: int
    c_dim: int = 0
    name: str | None = None
    #: For editors that act per layer (SeFa): which W+ index each style layer reads,
    #: and the layers' names; ``None`` when the generator does not say.
    style_layer_ws: list[int] | None = None
    style_layer_names: list[str] | None = None
    #: Whether :meth:`synthesize` takes ``transform``: a (3, 3) or per-sample (N, 3, 3)
    #: inverse image transform of its input (StyleGAN3's ``synthesis.input.transform``),
    #: which moves and turns the image without changing the code.
    takes_transform: bool = False
    #: The number formats it computes in (``--precision``): a generator that lists
    #: ``bf16`` runs after ``.to(torch.bfloat16)`` while taking and returning float32
    #: codes and images (see :mod:`dynode_core.compute`).
    precisions: tuple[str, ...] = ("fp32",)

    @abc.abstractmethod
    def mean_latent(self) -> torch.Tensor:
        """The average W code, shape (D,)."""

    @abc.abstractmethod
    def mapping(self, z: torch.Tensor, truncation: float = 1.0) -> torch.Tensor:
        """Map z (N, D) to w (N, D), truncated towards the mean latent."""

    @abc.abstractmethod
    def synthesize(self, w: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        """Render W (N, D) or W+ (N, num_ws, D) codes to images (N, 3, H, W) in [-1, 1].

        ``noise_mode``: ``const`` (stored noise; use for video), ``random`` or ``none``.
        Gradients flow to ``w``. A generator that declares :attr:`takes_transform` also
        takes ``transform=`` (see there).
        """

    def styles(self, w: torch.Tensor) -> list[torch.Tensor]:
        """Optional StyleSpace access: per-layer modulation style vectors."""
        raise NotImplementedError(f"{type(self).__name__} has no StyleSpace access")

    def synthesis_parameters(self) -> dict[str, torch.nn.Parameter]:
        """Optional: the synthesis network's parameters by ``state_dict`` name, which
        per-clip tuners (``pti``) adjust while the mapping stays fixed."""
        raise NotImplementedError(f"{type(self).__name__} does not say which of its "
                                  "parameters synthesize images, so it cannot be tuned")

    def named_directions(self) -> dict[str, "Direction"]:
        """Optional: edit directions that come with the model (name -> Direction, e.g. the
        bundled world's ``hue``); the ``supervised`` editor offers them. Default: none."""
        return {}

    def modulation_weights(self) -> list[torch.Tensor]:
        """Optional: the weight (C_out, D) of every style layer's modulation (affine), in
        the order of :attr:`style_layer_names`, for closed-form editors (SeFa)."""
        raise NotImplementedError(f"{type(self).__name__} does not expose its modulation "
                                  "weights, which SeFa needs")


class Inverter(abc.ABC):
    """Turns frames into latent codes."""

    @property
    def config(self) -> dict:
        """The settings that determine its codes (JSON-able, with ``name``); a cached
        inversion is reused only when they match. Default: the class name."""
        return {"name": type(self).__name__}

    def decisions(self) -> list[dict]:
        """What it decided per batch inverted so far (JSON-able rows, e.g. which refine
        ran), for ``metrics.json``. Default: nothing."""
        return []

    @abc.abstractmethod
    def invert(self, frames: torch.Tensor, generator: Generator, *,
               progress: Progress = no_progress) -> torch.Tensor:
        """Invert a batch of frames (N, 3, H, W) in [-1, 1] at the generator's
        resolution; returns W+ codes (N, num_ws, D)."""


class Dynamics(abc.ABC):
    """A continuous-time model of a latent trajectory.

    ``config`` is a JSON-able dict of the factory keywords that rebuild the
    model; ``state_dict()`` holds tensors only, so a fitted model saves as
    safetensors + JSON. Declared capabilities (class attributes):

    - ``controlled``: driven by a control path built from the observations (a
      CDE): ``propagate`` from an edited start follows the original motion, so
      the ``cde`` edit propagation applies;
    - ``stochastic``: :meth:`sample` draws paths (an SDE);
    - ``keyframe_corrected``: :meth:`predict` passes through every observed code
      exactly (at the observed times), so a check may hold it to that;
    - ``fit_stats``: statistics of the last fit (``loss`` ...), saved beside it;
    - ``fitted_info``: what the model keeps of the trajectory it was fitted to (JSON-able:
      its times, fps ...), saved beside it and restored on load.
    """

    config: dict
    controlled: bool = False
    stochastic: bool = False
    keyframe_corrected: bool = False
    fit_stats: dict = types.MappingProxyType({})  # assign a dict in fit()
    fitted_info: dict = types.MappingProxyType({})  # assign a dict in fit()

    @abc.abstractmethod
    def fit(self, trajectory: LatentTrajectory, *, progress: Progress = no_progress) -> "Dynamics":
        """Fit to an observed trajectory; returns self."""

    @abc.abstractmethod
    def predict(self, times) -> torch.Tensor:
        """Codes (N, L, D) at any times (seconds), inside or past the observed range."""

    @abc.abstractmethod
    def propagate(self, z0: torch.Tensor, times) -> torch.Tensor:
        """Codes (N, L, D) on the path that starts from ``z0`` (L, D) at the first
        observed time (e.g. an edited frame 0); never pulled back to the keyframes."""

    @abc.abstractmethod
    def state_dict(self) -> dict[str, torch.Tensor]:
        """Everything fitted, as tensors."""

    @abc.abstractmethod
    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Restore a fitted model from :meth:`state_dict`."""

    def sample(self, times, n: int) -> torch.Tensor:
        """``n`` sampled paths (n, N, L, D) at ``times``; only when ``stochastic``."""
        raise NotImplementedError(f"{type(self).__name__} is not stochastic")


@dataclass
class Direction:
    """A named edit direction: (D,) in W or (L, D) in W+.

    A W direction has unit norm; a W+ direction is scaled so that its largest
    layer row has norm 1 (as e4e's ``pose.pt`` is stored). ``scale`` is the
    latent distance that strength 1.0 moves (e.g. a GANSpace component's std).
    ``transform(codes, strength) -> codes``, when given, is a nonlinear edit (e.g.
    a turn on the circle a periodic factor such as hue lives on) used in place of
    the straight move; ``vector`` is then its mean direction (what metrics read).
    """

    name: str
    vector: torch.Tensor
    description: str = ""
    scale: float = 1.0
    transform: Callable[[torch.Tensor, float], torch.Tensor] | None = None


class Editor(abc.ABC):
    """Offers edit directions and applies them."""

    @abc.abstractmethod
    def directions(self, generator: Generator) -> dict[str, Direction]:
        """Named directions available for ``generator``."""

    def direction(self, name: str, generator: Generator) -> Direction | None:
        """The direction ``name`` means for ``generator`` when it is not one of
        :meth:`directions` (a file path, a component index); None when the editor has
        no such direction. :func:`dynode_core.edits.resolve_edit` asks it after the
        listed directions. Default: None."""
        return None

    def apply(self, latents: torch.Tensor, direction: Direction, strength: float) -> torch.Tensor:
        """Move codes (..., L, D) along ``direction`` by ``strength``."""
        if direction.transform is not None:
            return direction.transform(latents, strength)
        vec = direction.vector.to(latents)
        if vec.dim() == 1:
            vec = vec.expand(latents.shape[-2], -1)
        return latents + strength * direction.scale * vec


class Executor(abc.ABC):
    """Where ``dynode batch`` runs its videos: this process, a process pool, a cluster.

    The factory is called as ``factory(workers=None, address=None)``. Each job is run in
    a worker by ``dynode_core.BatchWorker(threads).run(job)``, which loads the generator
    and encoder once per worker and never raises for a failing video (it returns a
    failed :class:`~dynode_core.JobResult`). ``workers`` x ``threads`` should not exceed
    the CPUs the executor was given. A worker that dies is retried once on another
    worker; a second death is reported with ``JobResult.died(job, reason)``.
    """

    #: videos that run at once, and torch threads per worker (None: torch's default)
    workers: int = 1
    threads: int | None = None

    @abc.abstractmethod
    def run(self, jobs: list) -> Iterator:
        """Run every :class:`~dynode_core.BatchJob`; yield one result per job as each
        finishes, in any order."""

    def close(self) -> None:
        """Release what the executor started (a local cluster); called after the batch,
        also when it fails."""

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Tuner(abc.ABC):
    """Tunes a generator's synthesis weights on one clip, keeping its codes fixed as
    pivots (per-clip / pivotal tuning), so that real frames reconstruct closely.

    ``config``: the JSON-able settings that determine the result (stored with it).
    """

    config: dict
    #: True when :meth:`tune` takes ``edits``: the latent offsets of the edits the run
    #: will make, so that the tuning can keep those edits as steady as the
    #: reconstruction. ``dynode run`` passes them only to a tuner that declares this.
    takes_edits: bool = False

    @abc.abstractmethod
    def tune(self, generator: Generator, pivots: torch.Tensor,
             frames: Callable[[torch.Tensor], torch.Tensor], *,
             progress: Progress = no_progress, state_dir=None) -> dict:
        """Adjust ``generator.synthesis_parameters()`` in place so that
        ``generator.synthesize(pivots[i])`` reproduces frame ``i``.

        ``pivots``: the clip's codes (T, L, D); ``frames(indices)``: those frames as
        (n, 3, R, R) in [-1, 1] (read on demand: a clip is never held whole);
        ``state_dir``: where to checkpoint, so an interrupted tuning resumes to the same
        weights. A tuner that declares :attr:`takes_edits` also takes ``edits``: (K, L, D)
        offsets, edit k rendering frame i from ``pivots[i] + edits[k]`` (the ``offset``
        propagation's codes). Returns statistics (steps, final PSNR ...).
        """


class Aligner(abc.ABC):
    """Maps the frames of a clip to one crop per frame: a quad in frame coordinates, a
    status per frame (``detected``, ``filled`` from neighbours, ``fixed``), returned as
    a :class:`~dynode_core.Alignment` whose crops are ``size`` pixels square.

    The factory is called as ``factory(option=None, face_index=0, smooth_center=1.0,
    smooth_axes=3.0)`` (``option``: what follows ``NAME:`` in ``--align NAME:OPTION``,
    e.g. ``box:X,Y,W,H``); an aligner ignores settings it has no use for.
    """

    #: True when :meth:`align` looks at the frames (a detection pass over the clip);
    #: False when the crops follow from the frame size alone (``frames`` is then None).
    reads_frames: bool = False
    #: Whether ``dynode run`` pastes the rendered crops back into the frames by default.
    pastes: bool = True
    #: The inverter crop mode (``center``, ``none``) its crops equal exactly, so a run
    #: can hand the frames to the inverter unwarped (and needs no OpenCV); None: warped.
    crop_mode: str | None = None
    #: Whether the aligner uses ``face_index`` (which of several faces to follow).
    takes_face_index: bool = False

    @abc.abstractmethod
    def align(self, frames, *, width: int, height: int, count: int, size: int,
              progress: Progress = no_progress):
        """The :class:`~dynode_core.Alignment` of ``count`` frames of ``width`` x
        ``height``; ``frames``: an iterable of (N, H, W, 3) uint8 batches (or None, see
        :attr:`reads_frames`). Raises :class:`~dynode_core.InputError` in one line when
        it cannot align the clip (no face at all)."""


#: kind -> the class its components subclass (video kinds are checked in :mod:`.video`).
CONTRACTS = {"generators": Generator, "inverters": Inverter, "dynamics": Dynamics,
             "editors": Editor, "aligners": Aligner, "executors": Executor, "tuners": Tuner}


def require(component, kind: str, name: str):
    """``component`` if it subclasses its kind's contract, else a one-line error; called
    where a component enters a run, so capabilities can be read without probing."""
    from .errors import ComponentError

    contract = CONTRACTS[kind]
    if not isinstance(component, contract):
        raise ComponentError(f"{kind} '{name}' built a {type(component).__name__}, which does "
                             f"not subclass dynode_core.{contract.__name__}")
    return component


# Video contracts live in a torch-free module so that video I/O imports fast.
from .video_types import FrameBatch, VideoInfo, VideoReader, VideoWriter  # noqa: E402,F401
