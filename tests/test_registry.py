import pytest

from dynode_core import hookimpl
from dynode_core.plugins import DynodePluginManager, PluginInfo
from dynode_core.registry import (
    Component, ComponentConflictError, ComponentError, InvalidNameError, Registry,
    UnknownComponentError,
)


def factory(**kw):
    return kw


def test_unknown_name_lists_valid_names():
    reg = Registry()
    reg.add(Component("dynamics", "linear", factory, plugin="a"))
    reg.add(Component("dynamics", "ode", factory, aliases=("neural-ode",), plugin="a"))
    with pytest.raises(UnknownComponentError, match="valid names: linear, ode"):
        reg.get("dynamics", "odee")
    assert reg.get("dynamics", "neural-ode").name == "ode"


@pytest.mark.parametrize("name", ["Linear", "-x", "a b", "", "é"])
def test_invalid_names(name):
    with pytest.raises(InvalidNameError):
        Registry().add(Component("dynamics", name, factory))


def test_errors_inside_a_component_name_it_and_its_plugin():
    def broken(**kw):
        raise RuntimeError("boom")

    reg = Registry()
    reg.add(Component("dynamics", "broken", broken, plugin="acme", distribution="acme-dyn"))
    with pytest.raises(ComponentError, match="'broken' from plugin 'acme' \\(acme-dyn\\) failed: boom"):
        reg.create("dynamics", "broken")


class PluginOne:
    @hookimpl
    def register_dynamics(self, register):
        register("shared", factory)


class PluginTwo:
    @hookimpl
    def register_dynamics(self, register):
        register("shared", factory)


class PluginReplacing:
    @hookimpl
    def register_dynamics(self, register):
        register("shared", factory, replace=True, description="better")


def manager(*plugins):
    pm = DynodePluginManager()
    for name, plugin in plugins:
        pm.register(plugin, name=name)
        pm.infos[name] = PluginInfo(name=name, version="1.0", source="env", distribution=name)
    return pm


def test_two_plugins_registering_one_name_is_an_error_naming_both():
    pm = manager(("first-plugin", PluginOne()), ("second-plugin", PluginTwo()))
    with pytest.raises(ComponentConflictError) as err:
        pm.registry  # noqa: B018
    assert "first-plugin" in str(err.value) and "second-plugin" in str(err.value)


def test_replace_true_overrides_and_provenance_is_recorded():
    pm = manager(("first-plugin", PluginOne()), ("better", PluginReplacing()))
    comp = pm.registry.get("dynamics", "shared")
    assert comp.plugin == "better" and comp.distribution == "better"
    assert pm.infos["better"].provides == {"dynamics": ["shared"]}


def test_lazy_factories_import_only_when_called():
    import sys

    from dynode_core.registry import lazy

    factory = lazy("json.decoder:JSONDecoder")
    assert factory(strict=False).strict is False
    with pytest.raises(ValueError, match="module:attribute"):
        lazy("no-colon")
    sys.modules.pop("colorsys", None)
    lazy("colorsys:rgb_to_hsv")
    assert "colorsys" not in sys.modules
