"""The layer table of a StyleGAN3 generator: read from a network pickle's attributes, or
derived from a bare state dict's layer names with the architecture's standard schedule.

The table (``config``) is what :class:`~dynode_stylegan3.model.StyleGAN3Generator` builds:
z/w dims, mapping depth and learning rate, ``output_scale``, ``conv_clamp``, the input
(``channels``, ``size``, ``sampling_rate``, ``bandwidth``) and per layer ``name``,
``in/out_channels``, ``in/out_size``, ``conv_kernel``, ``up``, ``down``, ``up_taps``,
``down_taps``, ``down_radial``, ``padding`` (x0, x1, y0, y1) and ``torgb``.

The standard schedule (the published configs): 14 layers plus ToRGB, the last 2 critically
sampled; cutoffs rise geometrically from 2 to res/2 and stopbands from 2**2.1 to
res/2 * 2**0.3; a layer samples at the power of two at or above twice its stopband (at most
res), with a 10-pixel margin each side (the critically sampled layers: res exactly); the
nonlinearity runs at twice the larger sampling rate; filters have 6 taps per factor.
"""

from __future__ import annotations

import math
import re

import numpy as np

from dynode_core import InputError

LAYER_NAME = re.compile(r"L(\d+)_(\d+)_(\d+)")


def _int(value, what: str, path) -> int:
    arr = np.asarray(value).reshape(-1)
    if arr.size == 0 or not np.all(arr == arr[0]):
        raise InputError(f"{path}: {what} {value!r} is not square; dynode renders square images")
    return int(arr[0])


def layer_padding(in_size, out_size, kernel, up, down, up_taps, down_taps) -> list[int]:
    """(x0, x1, y0, y1): the pad (negative: crop) of the up-sampled grid that makes a layer
    output ``out_size`` samples centred on its input (the symmetric sample convention)."""
    total = (out_size - 1) * down + 1 - (in_size + kernel - 1) * up + up_taps + down_taps - 2
    lo = (total + up) // 2
    return [lo, total - lo, lo, total - lo]


def standard_schedule(resolution: int, layers: int = 14, critical: int = 2, margin: int = 10):
    """(sampling rates, sizes, cutoffs) of the input (index 0) and each layer."""
    last_cut, first_cut = resolution / 2, 2.0
    first_stop, last_stop = 2 ** 2.1, resolution / 2 * 2 ** 0.3
    rates, sizes, cutoffs = [], [], []
    for i in range(layers + 1):
        t = min(i / (layers - critical), 1.0)
        cutoffs.append(first_cut * (last_cut / first_cut) ** t)
        stop = first_stop * (last_stop / first_stop) ** t
        rates.append(int(2 ** math.ceil(math.log2(min(stop * 2, resolution)))))
        sizes.append(resolution if i >= layers - 1 else rates[-1] + 2 * margin)
    return rates, sizes, cutoffs


def config_from_state(state: dict, path) -> dict:
    """The table of a bare state dict (NVIDIA's key names), from its layer names and shapes."""
    found = {k.split(".")[1] for k in state if k.startswith("synthesis.L")}
    names = sorted((n for n in found if LAYER_NAME.fullmatch(n)),
                   key=lambda n: int(LAYER_NAME.fullmatch(n).group(1)))
    if not names or "synthesis.input.freqs" not in state:
        raise InputError(f"{path} holds no StyleGAN3 synthesis network (no synthesis.input.freqs "
                         "and synthesis.L<i>_<size>_<channels> layers)")
    n_layers = len(names) - 1
    if [int(LAYER_NAME.fullmatch(n).group(1)) for n in names] != list(range(len(names))):
        raise InputError(f"{path}: synthesis layers {', '.join(names)} are not L0 ... L{n_layers}")
    resolution = int(LAYER_NAME.match(names[-1]).group(2))
    rates, sizes, cutoffs = standard_schedule(resolution, n_layers)
    mapping = [k for k in state if re.fullmatch(r"mapping\.fc\d+\.weight", k)]
    layers = []
    for i, name in enumerate(names):
        prev = max(i - 1, 0)
        torgb = i == n_layers
        weight = state[f"synthesis.{name}.weight"]
        down_filter = state.get(f"synthesis.{name}.down_filter")
        tmp = max(rates[prev], rates[i]) * (1 if torgb else 2)
        up, down = tmp // rates[prev], tmp // rates[i]
        up_taps = 6 * up if up > 1 and not torgb else 1
        down_taps = 6 * down if down > 1 and not torgb else 1
        k = int(weight.shape[-1])
        layers.append({"name": name, "in_channels": int(weight.shape[1]),
                       "out_channels": int(weight.shape[0]), "in_size": sizes[prev],
                       "out_size": sizes[i], "conv_kernel": k, "up": up, "down": down,
                       "up_taps": up_taps, "down_taps": down_taps,
                       "down_radial": down_filter is not None and down_filter.dim() == 2,
                       "padding": layer_padding(sizes[prev], sizes[i], k, up, down, up_taps,
                                                down_taps), "torgb": torgb})
        if f"L{i}_{sizes[i]}_{int(weight.shape[0])}" != name:
            raise InputError(f"{path}: layer {name} does not follow the standard StyleGAN3 "
                             f"schedule (expected L{i}_{sizes[i]}_...); convert the network "
                             "pickle instead, which states every layer's sizes")
    w_dim = int(state["synthesis.input.affine.weight"].shape[1])
    return {"z_dim": int(state["mapping.fc0.weight"].shape[1]), "w_dim": w_dim, "c_dim": 0,
            "mapping_layers": len(mapping), "lr_mapping": 0.01, "resolution": resolution,
            "output_scale": 0.25, "conv_clamp": 256.0,
            "input": {"channels": int(state["synthesis.input.weight"].shape[0]),
                      "size": sizes[0], "sampling_rate": float(rates[0]),
                      "bandwidth": float(cutoffs[0])},
            "layers": layers}


def config_from_pickle(G, path) -> dict:
    """The table of a pickled NVIDIA StyleGAN3 generator (``PickledModule``), read from the
    attributes each layer stores (sizes, factors, padding), never recomputed."""
    mods = G.modules
    if "mapping" not in mods or "synthesis" not in mods:
        raise InputError(f"{path}: network {G.class_name} is not a StyleGAN3 generator")
    if "input" not in mods["synthesis"].modules:
        raise InputError(f"{path} is not a StyleGAN3 network pickle (its synthesis network has "
                         "no Fourier input; a StyleGAN2 one? load it with --generator stylegan2)")
    if G.attr("c_dim", 0):
        raise InputError(f"{path}: class-conditional StyleGAN3 (c_dim {G.attr('c_dim')}) is not "
                         "supported")
    mapping, synthesis = mods["mapping"], mods["synthesis"]
    fc = [mapping.modules[f"fc{i}"] for i in range(int(mapping.attr("num_layers", 0)))]
    if not fc or any(m.attr("activation", "lrelu") != "lrelu" for m in fc):
        raise InputError(f"{path}: the mapping network has no lrelu layers fc0, fc1, ...")
    inp = synthesis.modules["input"]
    layers = []
    for name in synthesis.attr("layer_names") or []:
        layer = synthesis.modules[name]
        a = layer.attr
        layers.append({"name": str(name), "in_channels": int(a("in_channels")),
                       "out_channels": int(a("out_channels")),
                       "in_size": _int(a("in_size"), f"{name}.in_size", path),
                       "out_size": _int(a("out_size"), f"{name}.out_size", path),
                       "conv_kernel": int(a("conv_kernel")), "up": int(a("up_factor")),
                       "down": int(a("down_factor")), "up_taps": int(a("up_taps")),
                       "down_taps": int(a("down_taps")), "down_radial": bool(a("down_radial")),
                       "padding": [int(p) for p in a("padding")], "torgb": bool(a("is_torgb"))})
    if not layers:
        raise InputError(f"{path}: the synthesis network lists no layers")
    clamps = {synthesis.modules[n["name"]].attr("conv_clamp") for n in layers}
    if len(clamps) != 1:
        raise InputError(f"{path}: layers disagree on conv_clamp ({sorted(map(str, clamps))})")
    clamp = clamps.pop()
    return {"z_dim": int(mapping.attr("z_dim")), "w_dim": int(mapping.attr("w_dim")), "c_dim": 0,
            "mapping_layers": len(fc), "lr_mapping": float(fc[0].attr("bias_gain", 0.01)),
            "resolution": int(synthesis.attr("img_resolution")),
            "output_scale": float(synthesis.attr("output_scale", 1.0)),
            "conv_clamp": None if clamp is None else float(clamp),
            "input": {"channels": int(inp.attr("channels")),
                      "size": _int(inp.attr("size"), "input.size", path),
                      "sampling_rate": float(inp.attr("sampling_rate")),
                      "bandwidth": float(inp.attr("bandwidth"))},
            "layers": layers}
