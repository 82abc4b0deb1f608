"""Bundled dynamics: neural ODE, SDE and CDE, the paper's recipe, and baselines.

One model per module; :data:`MODELS` maps each component name to its module,
class and description. Factories import lazily, so loading the plugin imports
neither torch nor the solver libraries.
"""

from __future__ import annotations

import importlib

from dynode_core import hookimpl

#: name -> (module, class, description)
MODELS = {
    "ode": ("ode", "NeuralODEDynamics",
            "second-order neural ODE on reduced latents, passes the keyframes (default)"),
    "dynode-paper": ("paper", "PaperDynamics",
                     "the DynODE paper's recipe: unit-speed MLP field on W+, dopri5"),
    "sde": ("sde", "LatentSDEDynamics",
            "latent SDE (torchsde): the ode drift with calibrated random forces; samples"),
    "cde": ("cde", "NeuralCDEDynamics",
            "neural CDE (torchcde) driven by the observed path; edits keep its motion"),
    "linear": ("linear", "LinearDynamics", "piecewise linear interpolation baseline"),
    "cubic": ("cubic", "CubicDynamics", "natural cubic spline baseline (scipy)"),
    "pchip": ("pchip", "PchipDynamics", "monotone cubic (PCHIP) baseline (scipy)"),
}


def model_class(name: str):
    """The class behind a component name (imports its module)."""
    module, cls, _ = MODELS[name]
    return getattr(importlib.import_module(f"{__name__}.{module}"), cls)


def _factory(name: str):
    def factory(**options):
        return model_class(name)(**options)

    factory.__name__ = f"{name.replace('-', '_')}_factory"
    factory.__doc__ = f"Build an unfitted {name!r} dynamics model from keyword options."
    return factory


@hookimpl
def register_dynamics(register):
    for name, (_, _, description) in MODELS.items():
        register(name, _factory(name), description=description)
