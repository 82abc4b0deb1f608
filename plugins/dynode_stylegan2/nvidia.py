"""Map an NVIDIA stylegan2-ada-pytorch generator (read by :mod:`dynode_core.formats.netpickle`) onto dynode's.

The architecture is read from the tensors (resolution, widths, z/w dims, mapping depth,
class embedding, FIR filter) and from plain attributes of the pickled layers
(``conv_clamp``, the mapping's learning-rate multiplier, ``architecture``). Key
correspondence, NVIDIA -> rosinality layout (see ``docs/design.md``, "Formats users already own"):

- ``mapping.fc{i}`` -> ``style.{i+1}``; ``mapping.embed`` -> ``embed``;
  ``mapping.w_avg`` -> the mean latent;
- ``synthesis.b4.const`` -> ``input.input``; ``b4.conv1`` -> ``conv1``; ``b4.torgb`` -> ``to_rgb1``;
- block ``k`` (resolution ``2**(k+3)``): ``conv0``/``conv1`` -> ``convs.{2k}``/``convs.{2k+1}``,
  ``torgb`` -> ``to_rgbs.{k}``; layer ``affine`` -> ``conv.modulation``, ``noise_strength`` ->
  ``noise.weight``, ``noise_const`` -> ``noises.noise_{i}``, ``resample_filter`` x 4 -> the
  blur / upsample kernels.
"""

from __future__ import annotations

import re

import torch

from dynode_core import InputError

SG3_MESSAGE = ("is a StyleGAN3 network pickle, not StyleGAN2: load it with "
               "--generator stylegan3")


def _is_stylegan3(G) -> bool:
    names = {name for name, _ in G.named_modules()}
    classes = {m.class_name for _, m in G.named_modules()}
    return ("SynthesisInput" in classes or "synthesis.input" in names
            or any(re.fullmatch(r"synthesis\.L\d+_\d+_\d+", n) for n in names))


def _check_generator(G, path) -> dict:
    """The synthesis blocks by resolution, after refusing what dynode cannot run."""
    if _is_stylegan3(G):
        raise InputError(f"{path} {SG3_MESSAGE}")
    modules = G.modules
    if "mapping" not in modules or "synthesis" not in modules:
        raise InputError(f"{path}: network {G.class_name} is not a StyleGAN2 generator "
                         f"(no mapping and synthesis networks; it has {', '.join(modules)})")
    blocks = {int(m.group(1)): block for name, block in modules["synthesis"].modules.items()
              if (m := re.fullmatch(r"b(\d+)", name))}
    if sorted(blocks) != [2 ** i for i in range(2, len(blocks) + 2)] or not blocks:
        raise InputError(f"{path}: synthesis blocks {sorted(blocks)} are not 4, 8, ..., size")
    for res, block in blocks.items():
        arch = block.attr("architecture", "skip")
        if arch != "skip" or "torgb" not in block.modules:
            raise InputError(f"{path}: block b{res} has the {arch!r} architecture; dynode runs "
                             "the 'skip' synthesis network of StyleGAN2 (config F) only")
        if block.attr("img_channels", 3) != 3:
            raise InputError(f"{path}: {block.attr('img_channels')} image channels; dynode "
                             "renders RGB (3) only")
    return blocks


def _layer_clamp(blocks) -> float | None:
    clamps = {m.attr("conv_clamp") for b in blocks.values() for m in b.modules.values()
              if m.class_name in ("SynthesisLayer", "ToRGBLayer")}
    if len(clamps) > 1:
        raise InputError(f"layers disagree on conv_clamp ({sorted(map(str, clamps))})")
    clamp = clamps.pop() if clamps else None
    return None if clamp is None else float(clamp)


def _mapping(G, path) -> tuple[dict, dict]:
    """(rosinality-layout mapping tensors, config entries) of ``G.mapping``."""
    mapping = G.modules["mapping"]
    state = mapping.state_dict()
    layers = sorted(int(m.group(1)) for k in state if (m := re.fullmatch(r"fc(\d+)\.weight", k)))
    if not layers or layers != list(range(len(layers))):
        raise InputError(f"{path}: mapping layers fc{layers} are not fc0, fc1, ...")
    fc = mapping.modules
    acts = {fc[f"fc{i}"].attr("activation", "lrelu") for i in layers}
    if acts != {"lrelu"}:
        raise InputError(f"{path}: mapping activations {sorted(acts)}; dynode runs 'lrelu'")
    w_dim = state[f"fc{layers[-1]}.weight"].shape[0]
    embed = state.get("embed.weight")
    c_dim, embed_dim = (0, 0) if embed is None else (embed.shape[1], embed.shape[0])
    z_dim = state["fc0.weight"].shape[1] - embed_dim
    if z_dim != w_dim:
        raise InputError(f"{path}: z_dim {z_dim} differs from w_dim {w_dim}; dynode's mapping "
                         "takes z of the width of w")
    lr = {round(float(fc[f"fc{i}"].attr("bias_gain", 0.01)), 8) for i in layers}
    if len(lr) != 1:
        raise InputError(f"{path}: mapping layers disagree on their learning-rate multiplier")
    out = {f"style.{i + 1}.{p}": state[f"fc{i}.{p}"] for i in layers for p in ("weight", "bias")}
    if embed is not None:
        out.update({"embed.weight": embed, "embed.bias": state["embed.bias"]})
    config = {"style_dim": w_dim, "n_mlp": len(layers), "lr_mlp": lr.pop(),
              "c_dim": c_dim, "embed_dim": embed_dim}
    return out, config | {"w_avg": state.get("w_avg")}


def _styled(layer: dict, dst: str, noise_key: str, out: dict) -> None:
    """One ``SynthesisLayer`` (its ``state_dict``) into ``out`` under rosinality names."""
    weight = layer["weight"]
    out[f"{dst}.conv.weight"] = weight[None]
    out[f"{dst}.conv.modulation.weight"] = layer["affine.weight"]
    out[f"{dst}.conv.modulation.bias"] = layer["affine.bias"]
    out[f"{dst}.activate.bias"] = layer["bias"]
    res = weight.new_zeros(()) if "noise_strength" not in layer else layer["noise_strength"]
    out[f"{dst}.noise.weight"] = res.reshape(1)
    noise = layer.get("noise_const")
    out[noise_key] = (noise if noise is not None else weight.new_zeros(1, 1))[None, None]


def _torgb(layer: dict, dst: str, out: dict) -> None:
    out[f"{dst}.conv.weight"] = layer["weight"][None]
    out[f"{dst}.conv.modulation.weight"] = layer["affine.weight"]
    out[f"{dst}.conv.modulation.bias"] = layer["affine.bias"]
    out[f"{dst}.bias"] = layer["bias"].reshape(1, -1, 1, 1)


def _synthesis(blocks) -> tuple[dict, dict]:
    """(rosinality-layout synthesis tensors, {resolution: width})."""
    out, channels = {}, {}
    for k, (res, block) in enumerate(sorted(blocks.items())):
        sub = {name: m.state_dict() for name, m in block.modules.items()}
        channels[res] = sub["conv1"]["weight"].shape[0]
        if res == 4:
            out["input.input"] = block.state_dict()["const"][None]
            _styled(sub["conv1"], "conv1", "noises.noise_0", out)
            _torgb(sub["torgb"], "to_rgb1", out)
            continue
        i = k - 1
        _styled(sub["conv0"], f"convs.{2 * i}", f"noises.noise_{2 * i + 1}", out)
        _styled(sub["conv1"], f"convs.{2 * i + 1}", f"noises.noise_{2 * i + 2}", out)
        _torgb(sub["torgb"], f"to_rgbs.{i}", out)
        if "resample_filter" in sub["conv0"]:
            out[f"convs.{2 * i}.conv.blur.kernel"] = sub["conv0"]["resample_filter"] * 4
        if "resample_filter" in block.state_dict():
            out[f"to_rgbs.{i}.upsample.kernel"] = block.state_dict()["resample_filter"] * 4
    return out, channels


def nvidia_generator_state(G, path) -> tuple[dict, dict, torch.Tensor | None]:
    """(state dict in dynode's layout, config, w_avg or None) of a pickled NVIDIA generator.

    The config holds the constructor arguments of
    :class:`~dynode_stylegan2.model.StyleGAN2Generator`, ``conv_clamp`` included.
    Raises :class:`InputError` for StyleGAN3 and anything else dynode cannot run.
    """
    blocks = _check_generator(G, path)
    state, config = _mapping(G, path)
    w_avg = config.pop("w_avg")
    synthesis, channels = _synthesis(blocks)
    state.update(synthesis)
    config.update(size=max(blocks), channels={str(r): int(c) for r, c in channels.items()},
                  conv_clamp=_layer_clamp(blocks))
    num_ws = G.attr("num_ws")
    if num_ws is not None and num_ws != 2 * len(blocks):
        raise InputError(f"{path}: num_ws {num_ws} does not match {len(blocks)} blocks")
    return {k: v.detach().float() for k, v in state.items()}, config, w_avg
