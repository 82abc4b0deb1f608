"""Hook specifications of dynode.

Every hook is called with keyword arguments only. A plugin implements the hooks
it needs with the :data:`dynode_core.hookimpl` marker and names only the
arguments it uses (pluggy passes it just those). Hooks evolve by gaining
arguments, never by renaming them.

Registration hooks receive a ``register`` callback::

    register(name, factory, *, aliases=(), description="", replace=False, **meta)

``factory`` is a callable that builds the component when it is needed (never a
loaded model), so listing plugins loads no weights. Names are lowercase
``[a-z0-9][a-z0-9._-]*``; registering a name that another plugin already
registered is an error naming both plugins unless ``replace=True``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import pluggy

if TYPE_CHECKING:
    import click

    from .run.context import RunContext
    from .run.runner import Stages

hookspec = pluggy.HookspecMarker("dynode")

#: The ``register`` callback every registration hook receives.
Register = Callable[..., None]


# --------------------------------------------------------------------------- setup


@hookspec(historic=True)
def addhooks(plugin_manager: pluggy.PluginManager) -> None:
    """Add hook specifications of a plugin, so it can offer hooks to other plugins.

    Called once for every plugin when it is registered (historic: plugins
    registered later still receive the call).

    :param plugin_manager: the :class:`pluggy.PluginManager`; call
        ``plugin_manager.add_hookspecs(module_or_class)``.

    Example::

        @hookimpl
        def addhooks(plugin_manager: pluggy.PluginManager) -> None:
            from my_plugin import hookspecs
            plugin_manager.add_hookspecs(hookspecs)
    """


# ------------------------------------------------------------------ registration


@hookspec
def register_generators(register: Register) -> None:
    """Register generator factories (:class:`dynode_core.interfaces.Generator`).

    Called when the registry is first built. The factory is called as
    ``factory(checkpoint=None, device="cpu")``; a model class such as
    ``stylegan2`` needs ``checkpoint``, a ready model such as ``shapes64``
    loads its bundled weights when ``checkpoint`` is ``None``. Metadata the core reads:
    ``needs_checkpoint=True`` (a model class), ``converter=fn`` (``dynode convert
    --generator NAME`` calls ``fn(source, out, network=..., overwrite=...)`` and it
    returns the written ``.safetensors`` path).

    :param register: ``register(name, factory, *, aliases=(), description="",
        replace=False, **meta)``; call it once per component (see the module
        docstring for the name rules and conflicts).

    Example::

        @hookimpl
        def register_generators(register: Register) -> None:
            register("stylegan2", load_stylegan2, description="rosinality StyleGAN2")
    """


@hookspec
def register_encoders(register: Register) -> None:
    """Register named encoder weights used by the ``e4e`` inverter.

    The factory is called as ``factory(device="cpu")`` and returns an encoder
    module mapping images in [-1, 1] to W+ codes, or the path of an encoder
    file the ``e4e`` inverter reads (a pSp/e4e ``.pt`` or dynode
    ``.safetensors``). Pass ``generator=NAME`` as metadata to make it that
    generator's default encoder.

    :param register: ``register(name, factory, *, aliases=(), description="",
        replace=False, **meta)``; call it once per component (see the module
        docstring for the name rules and conflicts).

    Example::

        @hookimpl
        def register_encoders(register: Register) -> None:
            register("shapes64-e4e", load_bundled_encoder, generator="shapes64")
    """


@hookspec
def register_inverters(register: Register) -> None:
    """Register inverters (:class:`dynode_core.interfaces.Inverter`).

    The factory is called with the inverter's options as keywords
    (e.g. ``steps=200``) and returns an object with
    ``invert(frames, generator, *, progress) -> codes``: a batch of frames
    (N, 3, H, W) in [-1, 1] at the generator's resolution to W+ codes
    (N, num_ws, D). :func:`dynode_core.inversion.invert_video` streams a whole
    video through it into a :class:`~dynode_core.trajectory.LatentTrajectory`.

    :param register: ``register(name, factory, *, aliases=(), description="",
        replace=False, **meta)``; call it once per component (see the module
        docstring for the name rules and conflicts).

    Example::

        @hookimpl
        def register_inverters(register: Register) -> None:
            register("optim", OptimInverter, description="Adam in W+")
    """


@hookspec
def register_dynamics(register: Register) -> None:
    """Register dynamics models (:class:`dynode_core.interfaces.Dynamics`).

    The factory is called with the model's options as keywords (at least
    ``seed`` and ``device``) and returns an unfitted model; the same factory
    rebuilds a saved model from its stored config.

    :param register: ``register(name, factory, *, aliases=(), description="",
        replace=False, **meta)``; call it once per component (see the module
        docstring for the name rules and conflicts).

    Example::

        @hookimpl
        def register_dynamics(register: Register) -> None:
            register("linear", LinearDynamics, description="piecewise linear baseline")
    """


@hookspec
def register_editors(register: Register) -> None:
    """Register latent editors (:class:`dynode_core.interfaces.Editor`).

    The factory is called with the editor's options as keywords (e.g.
    ``layers="0-5"`` for SeFa, ``folder=...`` for direction files), or none.

    :param register: ``register(name, factory, *, aliases=(), description="",
        replace=False, **meta)``; call it once per component (see the module
        docstring for the name rules and conflicts).

    Example::

        @hookimpl
        def register_editors(register: Register) -> None:
            register("file", DirectionFileEditor, description="direction from .pt/.npy")
    """


@hookspec
def register_video_readers(register: Register) -> None:
    """Register video readers (:class:`dynode_core.interfaces.VideoReader`).

    Pass ``extensions=(".mp4", ...)`` as metadata (``directory=True`` for a reader
    of frame folders) so that :func:`dynode_core.video.read_video` picks it.

    :param register: ``register(name, factory, *, aliases=(), description="",
        replace=False, **meta)``; call it once per component (see the module
        docstring for the name rules and conflicts).

    Example::

        @hookimpl
        def register_video_readers(register: Register) -> None:
            register("pyav", PyAVReader, extensions=(".mp4", ".mkv"))
    """


@hookspec
def register_video_writers(register: Register) -> None:
    """Register video writers (:class:`dynode_core.interfaces.VideoWriter`).

    Pass ``extensions=(".mp4",)`` as metadata so that the writer is chosen by
    the output path's suffix.

    :param register: ``register(name, factory, *, aliases=(), description="",
        replace=False, **meta)``; call it once per component (see the module
        docstring for the name rules and conflicts).

    Example::

        @hookimpl
        def register_video_writers(register: Register) -> None:
            register("gif", GifWriter, extensions=(".gif",))
    """


@hookspec
def register_metrics(register: Register) -> None:
    """Register metrics: callables ``metric(**inputs) -> float | dict``.

    :param register: ``register(name, factory, *, aliases=(), description="",
        replace=False, **meta)``; call it once per component (see the module
        docstring for the name rules and conflicts).

    Example::

        @hookimpl
        def register_metrics(register: Register) -> None:
            register("flicker", temporal_flicker, description="mean |frame_t+1 - frame_t|")
    """


@hookspec
def register_executors(register: Register) -> None:
    """Register batch executors (:class:`dynode_core.interfaces.Executor`): where
    ``dynode batch`` runs its videos (``local``, ``ray``; Dask or Slurm could follow).

    The factory is called as ``factory(workers=None, address=None)`` and returns an
    :class:`~dynode_core.Executor`; an executor that cannot use an option it is given
    raises :class:`~dynode_core.InputError`. Import the engine (e.g. ``ray``) inside the
    factory, so that listing plugins imports nothing heavy, and name the package to
    install in a one-line error when it is missing.

    :param register: ``register(name, factory, *, aliases=(), description="",
        replace=False, **meta)``; call it once per component (see the module
        docstring for the name rules and conflicts).

    Example::

        @hookimpl
        def register_executors(register: Register) -> None:
            register("dask", lazy("my_plugin.dask:DaskExecutor"),
                     description="a Dask cluster (address=tcp://HOST:8786)")
    """


@hookspec
def register_tuners(register: Register) -> None:
    """Register per-clip generator tuners (:class:`dynode_core.interfaces.Tuner`).

    The factory is called with the tuner's options as keywords (e.g. ``steps=500``,
    ``seed``, ``device``) and returns a tuner; ``dynode run --tune NAME`` and
    ``dynode tune`` use it. Pass ``time_budget=True`` as metadata when the factory takes
    ``time_budget`` (seconds, or None): ``dynode run`` then bounds the tuning by
    ``--tune-budget``.

    :param register: ``register(name, factory, *, aliases=(), description="",
        replace=False, **meta)``; call it once per component (see the module
        docstring for the name rules and conflicts).

    Example::

        @hookimpl
        def register_tuners(register):
            register("pti", PivotalTuner, description="pivotal tuning")
    """


@hookspec
def register_aligners(register: Register) -> None:
    """Register aligners (:class:`dynode_core.interfaces.Aligner`): a clip's frames to one
    crop per frame (``face``: FFHQ alignment of a tracked face; ``center``, ``box``,
    ``none``), chosen with ``dynode run --align NAME[:OPTION]`` and ``dynode align``.

    The factory is called as ``factory(option=None, face_index=0, smooth_center=1.0,
    smooth_axes=3.0)``, where ``option`` is the text after ``NAME:`` (``box:X,Y,W,H``);
    a bad option raises :class:`~dynode_core.InputError` in one line. Import detectors
    inside the factory and name the extra to install when one is missing.

    :param register: ``register(name, factory, *, aliases=(), description="",
        replace=False, **meta)``; call it once per component (see the module
        docstring for the name rules and conflicts).

    Example::

        @hookimpl
        def register_aligners(register: Register) -> None:
            register("mesh", lazy("my_plugin.mesh:MeshAligner"),
                     description="faces by a face mesh")
    """


@hookspec
def register_commands(cli: "click.Group") -> None:
    """Add click commands to the ``dynode`` command group.

    Called when the CLI starts. Keep imports of heavy modules inside the
    command functions so that ``dynode --help`` stays fast.

    :param cli: the ``dynode`` :class:`click.Group`; call ``cli.add_command(cmd)``
        or decorate with ``@cli.command()``.

    Example::

        @hookimpl
        def register_commands(cli):
            @cli.command()
            def hello():
                click.echo("hi")
    """


# ------------------------------------------------------------------- pipeline

@hookspec
def add_stages(stages: "Stages") -> None:
    """Add steps to ``dynode run``.

    Called once per run, before the first stage, with the ordered default
    stages; also when ``dynode run`` builds its options and a manifest is read, so
    that the stages' declared settings are known. A plugin inserts its own
    :class:`~dynode_core.Stage` (``Stage(name, run, take=..., save=...)``:
    ``run(ctx, data) -> result``, ``take(ctx) -> data``) before or after a named one;
    its result is kept in ``ctx.results[name]`` and later stages (and hooks) can read
    it. A stage owns its settings (``options``: :class:`~dynode_core.StageOption`
    objects, each a ``dynode run`` flag, a ``[stages.NAME]`` key of ``config.toml``
    and a manifest column, read as ``ctx.settings[name]``), whether it runs
    (``active(settings)``), its pre-flight check (``prepare(ctx)``, before the run
    folder exists) and its ``metrics.json`` section (``metrics(ctx)``).

    :param stages: the run's :class:`~dynode_core.Stages`; call
        ``stages.add(stage, after="invert")`` (or ``before=``).

    Example::

        @hookimpl
        def add_stages(stages):
            window = StageOption("speed_window", int, minimum=1, help="frames to average")
            stages.add(Stage("speed", measure, take=result_of("invert"), save=save,
                             options=(window,), metrics=speed_metrics,
                             active=lambda settings: settings["speed_window"] is not None),
                       after="invert")
    """


@hookspec
def before_stage(stage: str, data: Any, context: "RunContext") -> None:
    """Called before a pipeline stage runs.

    :param stage: the stage's name: ``read``, ``align``, ``invert``, ``tune`` (with
        ``--tune``), ``fit``, ``interpolate``, ``edit``, ``render``, ``write``, or one a
        plugin added.
    :param data: the stage's input, exactly what the stage receives
        (the table in :mod:`dynode_core.run.stages` lists it for each default stage).
    :param context: the run's :class:`~dynode_core.run.context.RunContext`,
        also a mutable mapping shared by all stages of one run (``config``,
        ``folder``, ``device``, ``generator``, ``settings`` of every stage,
        ``results`` of earlier stages,
        ``stages`` timings); plugins may store their own keys in it.

    Return values are ignored.

    Example::

        @hookimpl
        def before_stage(stage, context):
            context.setdefault("seen", []).append(stage)
    """


@hookspec
def after_stage(stage: str, result: Any, context: "RunContext") -> Any:
    """Called after a pipeline stage; may return a replacement for its result.

    Implementations are called in pluggy's call order (plugins registered
    later first, ``tryfirst``/``trylast`` respected). Each one receives as
    ``result`` the output of the previous implementation's replacement (or
    the stage's own result if none replaced it). Returning ``None`` keeps the
    result unchanged; returning any other value replaces it: the final value is
    kept in ``context.results[stage]``, saved to the run folder where the stage
    saves its result (``latents.safetensors``, ``dynamics/``), and is what
    later stages receive (e.g. a replaced ``edit`` result is what ``render``
    renders).

    :param stage: the stage's name (see :func:`before_stage`).
    :param result: the stage's result, or the previous replacement
        (listed in :mod:`dynode_core.run.stages`).
    :param context: the run's :class:`~dynode_core.run.context.RunContext`.

    Example::

        @hookimpl
        def after_stage(stage, result):
            if stage == "invert":
                return smooth(result)
    """
