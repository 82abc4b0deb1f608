"""StyleGAN3 ("alias-free", configs T and R) generator in pure PyTorch, as a dynode Generator.

The architecture is data: ``config`` lists the input grid and every synthesis layer (sizes,
channels, kernel, up/down factors, padding, filter taps), as NVIDIA's network pickles store
it or as :func:`dynode_stylegan3.config.standard_config` derives it. W+ has ``num_ws`` = layers
+ 1 rows: row 0 places the Fourier input (rotation and translation), row ``i + 1`` styles
layer ``i``. ``synthesize(w, transform=M)`` renders with ``M`` (3, 3) or (N, 3, 3) as the
input's inverse image transform, NVIDIA's ``synthesis.input.transform`` buffer.
"""

from __future__ import annotations

import torch
from torch import nn

from dynode_core import Generator, InputError

from .layers import FourierInput, Mapping, SynthesisLayer

NOISE_MODES = ("const", "random", "none")  # StyleGAN3 has no noise: all render alike


class Synthesis(nn.Module):
    """The Fourier input and the synthesis layers, in order (module names as in the file)."""

    def __init__(self, config: dict):
        super().__init__()
        spec = config["input"]
        self.input = FourierInput(config["w_dim"], spec["channels"], spec["size"],
                                  spec["sampling_rate"], spec["bandwidth"])
        self.layer_names = [layer["name"] for layer in config["layers"]]
        for layer in config["layers"]:
            self.add_module(layer["name"], SynthesisLayer(layer, config["w_dim"],
                                                          config["conv_clamp"]))
        self.output_scale = float(config["output_scale"])

    def layers(self) -> list[SynthesisLayer]:
        return [getattr(self, name) for name in self.layer_names]

    def forward(self, ws: torch.Tensor, transform: torch.Tensor | None = None) -> torch.Tensor:
        x = self.input(ws[:, 0], transform)
        x = x.contiguous(memory_format=torch.channels_last)
        for i, layer in enumerate(self.layers()):
            x = layer(x, ws[:, i + 1])
        return (x * self.output_scale).contiguous()


class StyleGAN3Generator(Generator):
    """StyleGAN3 generator: ``mapping`` z -> w, ``synthesize`` W or W+ (and a transform)."""

    takes_transform = True

    def __init__(self, config: dict):
        super().__init__()
        if config.get("c_dim", 0):
            raise InputError("class-conditional StyleGAN3 networks (c_dim > 0) are not supported")
        if config["z_dim"] != config["w_dim"]:
            raise InputError(f"z_dim {config['z_dim']} differs from w_dim {config['w_dim']}; "
                             "dynode's mapping takes z of the width of w")
        self.config = config
        self.latent_dim = int(config["w_dim"])
        self.num_ws = len(config["layers"]) + 1
        self.resolution = int(config["resolution"])
        self.mapping_net = Mapping(config["z_dim"], config["w_dim"], config["mapping_layers"],
                                   config["lr_mapping"])
        self.synthesis = Synthesis(config)
        self.style_layer_names = list(self.synthesis.layer_names)
        self.style_layer_ws = list(range(1, self.num_ws))

    # The state dict uses the file's names: ``mapping.*`` for the mapping network.
    def state_dict(self, *args, **kwargs):
        state = super().state_dict(*args, **kwargs)
        return type(state)((k.replace("mapping_net.", "mapping.", 1), v) for k, v in state.items())

    def load_state_dict(self, state, strict: bool = True, assign: bool = False):
        renamed = {("mapping_net." + k[8:] if k.startswith("mapping.") else k): v
                   for k, v in state.items()}
        return super().load_state_dict(renamed, strict=strict, assign=assign)

    # -- latent spaces -------------------------------------------------------------------
    def mean_latent(self) -> torch.Tensor:
        return self.mapping_net.w_avg.detach().clone()

    def mapping(self, z: torch.Tensor, truncation: float = 1.0) -> torch.Tensor:
        w = self.mapping_net(z)
        return w if truncation == 1.0 else torch.lerp(self.mapping_net.w_avg.to(w), w, truncation)

    def broadcast(self, w: torch.Tensor) -> torch.Tensor:
        """W (N, D) -> W+ (N, num_ws, D); W+ passes through after a shape check."""
        if w.dim() == 2 and w.shape[1] == self.latent_dim:
            return w.unsqueeze(1).expand(-1, self.num_ws, -1)
        if w.dim() == 3 and w.shape[1:] == (self.num_ws, self.latent_dim):
            return w
        raise ValueError(f"expected W (N, {self.latent_dim}) or W+ (N, {self.num_ws}, "
                         f"{self.latent_dim}), got {tuple(w.shape)}")

    def styles(self, w: torch.Tensor) -> list[torch.Tensor]:
        """StyleSpace: each synthesis layer's modulation (N, C_in), ``style_layer_names`` order."""
        wplus = self.broadcast(w)
        return [layer.style(wplus[:, i + 1]) for i, layer in enumerate(self.synthesis.layers())]

    def modulation_weights(self) -> list[torch.Tensor]:
        """Per-layer (C_in, D) matrices A with style = A @ w + b (``style_layer_names`` order)."""
        return [layer.affine.effective_weight().detach() for layer in self.synthesis.layers()]

    def synthesis_parameters(self) -> dict[str, nn.Parameter]:
        """Every parameter but the mapping network's."""
        return {name: p for name, p in self.named_parameters()
                if not name.startswith("mapping_net.")}

    # -- synthesis -----------------------------------------------------------------------
    def synthesize(self, w: torch.Tensor, noise_mode: str = "const",
                   transform: torch.Tensor | None = None) -> torch.Tensor:
        """Images (N, 3, R, R). ``transform``: (3, 3) or (N, 3, 3), the input's inverse
        image transform (default: the stored one, the identity in trained files)."""
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"unknown noise_mode {noise_mode!r}; valid: {', '.join(NOISE_MODES)}")
        wplus = self.broadcast(w)
        if transform is not None:
            transform = torch.as_tensor(transform)
            if transform.shape[-2:] != (3, 3) or transform.dim() not in (2, 3) or (
                    transform.dim() == 3 and transform.shape[0] not in (1, wplus.shape[0])):
                raise ValueError(f"transform must be (3, 3) or (N, 3, 3), got "
                                 f"{tuple(transform.shape)} for {wplus.shape[0]} codes")
        return self.synthesis(wplus, transform)

    forward = synthesize
