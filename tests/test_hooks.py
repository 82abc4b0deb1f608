"""Each hook, exercised by a plugin that implements it (datasette's guard: every hook has a
``test_hook_<name>`` test; the guard itself is the last test here)."""

import ast
import inspect

import numpy as np
import pytest
import torch

from dynode_core import (Direction, Dynamics, Editor, FrameBatch, Inverter, VideoInfo,
                         VideoReader, VideoWriter, get_registry, hookimpl, hookspecs)
from dynode_core.plugins import get_plugin_manager

from conftest import REPO


def _with(plugin):
    """Register ``plugin`` on the process-wide manager (reset after each test)."""
    pm = get_plugin_manager()
    pm.register(plugin, name=type(plugin).__name__.lower())
    pm.reset_registry()
    return get_registry()


class Hold(Dynamics):
    config = {}

    def fit(self, trajectory, *, progress=None):
        self.last = trajectory.latents[-1]
        return self

    def predict(self, times):
        return self.last.expand(len(times), *self.last.shape).clone()

    def propagate(self, z0, times):
        return z0.expand(len(times), *z0.shape).clone()

    def state_dict(self):
        return {"last": self.last}

    def load_state_dict(self, state):
        self.last = state["last"]


def test_hook_register_dynamics_adds_a_fittable_model():
    class Plugin:
        @hookimpl
        def register_dynamics(self, register):
            register("hold-last", Hold, description="holds the last code")

    registry = _with(Plugin())
    from dynode_core.testing import tiny_trajectory

    traj = tiny_trajectory()
    model = registry.create("dynamics", "hold-last").fit(traj)
    assert torch.equal(model.predict([0.0, 9.0])[1], traj.latents[-1])
    assert registry.get("dynamics", "hold-last").plugin == "plugin"


def test_hook_register_generators_is_created_with_checkpoint_and_device():
    seen = {}

    class Plugin:
        @hookimpl
        def register_generators(self, register):
            def factory(checkpoint=None, device="cpu"):
                seen.update(checkpoint=checkpoint, device=device)
                return get_registry().create("generators", "shapes64", device=device)

            register("my-shapes", factory, needs_checkpoint=False)

    generator = _with(Plugin()).create("generators", "my-shapes", checkpoint=None, device="cpu")
    assert seen == {"checkpoint": None, "device": "cpu"} and generator.resolution == 64


def test_hook_register_encoders_names_a_file_the_e4e_inverter_reads():
    from dynode_shapes.models import ENCODER_WEIGHTS

    class Plugin:
        @hookimpl
        def register_encoders(self, register):
            register("my-encoder", lambda device="cpu": ENCODER_WEIGHTS, generator="nothing")

    _with(Plugin())
    from dynode_core.app import build_inverter

    inverter = build_inverter("e4e", encoder="my-encoder")
    generator = get_registry().create("generators", "shapes64")
    codes = inverter.invert(torch.zeros(1, 3, 64, 64), generator)
    assert codes.shape == (1, generator.num_ws, generator.latent_dim)


def test_hook_register_inverters_feeds_invert_video():
    class Mean(Inverter):
        def invert(self, frames, generator, *, progress=None):
            w = generator.mean_latent()
            return w.expand(len(frames), generator.num_ws, -1).clone()

    class Plugin:
        @hookimpl
        def register_inverters(self, register):
            register("mean", Mean)

    _with(Plugin())
    from dynode_core.app import invert_video

    generator = get_registry().create("generators", "shapes64")
    batch = FrameBatch(frames=np.zeros((3, 64, 64, 3), np.uint8), times=np.arange(3) / 10)
    traj = invert_video([batch], generator, "mean", progress=False)
    assert len(traj) == 3 and traj.meta["inverter"] == "Mean"


def test_hook_register_editors_offers_directions_to_edit_specs():
    class Up(Editor):
        def directions(self, generator):
            return {"up": Direction("up", torch.ones(generator.latent_dim) / generator.latent_dim ** 0.5)}

    class Plugin:
        @hookimpl
        def register_editors(self, register):
            register("up", Up)

    _with(Plugin())
    from dynode_core.app import resolve_edit

    generator = get_registry().create("generators", "shapes64")
    edit = resolve_edit("up:up:2", generator)
    codes = torch.zeros(generator.num_ws, generator.latent_dim)
    assert torch.allclose(edit.apply(codes).norm(dim=-1), torch.full((generator.num_ws,), 2.0))


class Stripes(VideoReader):
    def probe(self, source):
        return VideoInfo(frames=4, width=8, height=8, fps=10.0)

    def read(self, source, *, batch_size=16):
        frames = np.zeros((4, 8, 8, 3), np.uint8)
        frames[:, ::2] = 255
        yield FrameBatch(frames=frames, times=np.arange(4) / 10.0)


def test_hook_register_video_readers_reads_by_suffix(tmp_path):
    class Plugin:
        @hookimpl
        def register_video_readers(self, register):
            register("stripes", Stripes, extensions=(".stripes",))

    _with(Plugin())
    from dynode_core import read_video

    (tmp_path / "a.stripes").write_text("")
    batches = list(read_video(tmp_path / "a.stripes"))
    assert batches[0].frames.shape == (4, 8, 8, 3) and batches[0].frames[0, 0, 0, 0] == 255


def test_hook_register_video_writers_writes_by_suffix(tmp_path):
    class Raw(VideoWriter):
        def write(self, path, frames, *, fps):
            from dynode_core import iter_frames

            np.save(path, np.stack(list(iter_frames(frames))), allow_pickle=False)

    class Plugin:
        @hookimpl
        def register_video_writers(self, register):
            register("raw", Raw, extensions=(".npy",))

    _with(Plugin())
    from dynode_core import write_video

    write_video(tmp_path / "v.npy", np.full((2, 4, 4, 3), 7, np.uint8), fps=5)
    assert np.load(tmp_path / "v.npy").sum() == 7 * 2 * 4 * 4 * 3


def test_hook_register_metrics_is_listed_and_callable():
    class Plugin:
        @hookimpl
        def register_metrics(self, register):
            register("mean-level", lambda frames: float(np.mean(frames)))

    registry = _with(Plugin())
    assert registry.create("metrics", "mean-level", frames=np.ones((2, 2))) == 1.0
    assert "mean-level" in registry.names("metrics")


def test_hook_register_commands_adds_a_cli_command():
    import click
    from click.testing import CliRunner

    from dynode_core.cli import cli

    class Plugin:
        @hookimpl
        def register_commands(self, cli):
            @cli.command("hello-hooks")
            def hello():
                click.echo("hello from a plugin")

    _with(Plugin())
    get_plugin_manager().hook.register_commands(cli=cli)
    result = CliRunner().invoke(cli, ["hello-hooks"])
    assert result.exit_code == 0 and result.output == "hello from a plugin\n"


def test_hook_addhooks_lets_a_plugin_offer_its_own_hook():
    import pluggy

    spec = pluggy.HookspecMarker("dynode")

    class MySpecs:
        @spec
        def favourite_colour(self):
            """Return a colour."""

    class Offering:
        @hookimpl
        def addhooks(self, plugin_manager):
            plugin_manager.add_hookspecs(MySpecs)

    class Answering:
        @hookimpl
        def favourite_colour(self):
            return "teal"

    pm = get_plugin_manager()
    pm.register(Offering(), name="offering")
    pm.register(Answering(), name="answering")
    assert pm.hook.favourite_colour() == ["teal"]


# ------------------------------------------------------------------------- guards

HOOKS = [name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
         if hasattr(fn, "dynode_spec")]


def _test_names() -> set[str]:
    names = set()
    for path in (REPO / "tests").glob("test_*.py"):
        names |= {node.name for node in ast.walk(ast.parse(path.read_text()))
                  if isinstance(node, ast.FunctionDef) and node.name.startswith("test_hook_")}
    return names


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_test(hook):
    names = _test_names()
    assert any(n == f"test_hook_{hook}" or n.startswith(f"test_hook_{hook}_") for n in names), \
        f"no test_hook_{hook}... test exercises the {hook} hook"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_argument_is_documented(hook):
    fn = getattr(hookspecs, hook)
    doc = inspect.getdoc(fn) or ""
    for arg in inspect.signature(fn).parameters:
        assert f":param {arg}:" in doc, f"hookspec {hook} has no ':param {arg}:' line"
