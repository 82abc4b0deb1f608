"""Conformance checks for components: call them from your own tests.

Each check runs on tiny CPU inputs and raises :class:`AssertionError` whose
message names the broken rule.
"""

from __future__ import annotations

import torch


def _rule(ok: bool, rule: str, detail: str) -> None:
    if not ok:
        raise AssertionError(f"{rule}: {detail}")


def _check_declared_generator(g) -> None:
    """The capabilities a generator declares (see :class:`dynode_core.Generator`)."""
    from ..interfaces import Generator

    _rule(isinstance(g, Generator), "contract", f"{type(g).__name__} does not subclass "
          "dynode_core.Generator")
    for attr in ("latent_dim", "num_ws", "resolution"):
        value = getattr(g, attr, None)
        _rule(isinstance(value, int) and value > 0, "attributes", f"{attr} = {value!r}, "
              "expected a positive int")
    _rule(isinstance(g.c_dim, int) and g.c_dim >= 0, "attributes",
          f"c_dim = {g.c_dim!r}, expected an int >= 0 (0: unconditional)")
    _rule(g.name is None or isinstance(g.name, str), "attributes",
          f"name = {g.name!r}, expected None or the registered name")
    for attr in ("style_layer_ws", "style_layer_names"):
        value = getattr(g, attr)
        _rule(value is None or isinstance(value, list), "attributes",
              f"{attr} = {value!r}, expected None or a list")
    _rule(isinstance(g.named_directions(), dict), "named_directions",
          "named_directions() must return a dict (empty when the model ships none)")
    from ..compute import PRECISIONS

    _rule(isinstance(g.precisions, tuple) and "fp32" in g.precisions
          and set(g.precisions) <= set(PRECISIONS), "attributes",
          f"precisions = {g.precisions!r}, expected a tuple with 'fp32' of {PRECISIONS}")


def check_generator(generator, *, batch: int = 2, max_abs: float = 16.0, atol: float = 1e-4,
                    seed: int = 0) -> None:
    """Check a :class:`dynode_core.interfaces.Generator` against the contract.

    Rules: attribute types; mean latent and mapping shapes; truncation 0 gives the
    mean latent; image shape, finite values within ``max_abs`` (about [-1, 1]; random
    weights overshoot) that depend on the code; W equals W+ broadcast to every layer;
    ``const`` noise is deterministic, ``random`` and ``none`` render; a batch renders
    as its samples one by one; the gradient reaches every layer of a W+ input;
    ``styles`` (when offered) gives one (N, C) tensor per layer.
    """
    g = generator
    _check_declared_generator(g)
    d, n_ws, res = g.latent_dim, g.num_ws, g.resolution
    ref = next(iter(g.parameters()), None) if isinstance(g, torch.nn.Module) else None
    device, dtype = (ref.device, ref.dtype) if ref is not None else (torch.device("cpu"), torch.float32)
    rng = torch.Generator().manual_seed(seed)
    z = torch.randn(batch, d, generator=rng).to(device, dtype)

    with torch.no_grad():
        avg = g.mean_latent()
        _rule(tuple(avg.shape) == (d,) and bool(torch.isfinite(avg).all()), "mean latent",
              f"mean_latent() gave shape {tuple(avg.shape)}, expected ({d},) and finite")
        w = g.mapping(z)
        _rule(tuple(w.shape) == (batch, d) and bool(torch.isfinite(w).all()), "mapping",
              f"mapping(z) gave shape {tuple(w.shape)}, expected ({batch}, {d}) and finite")
        w0 = g.mapping(z, truncation=0.0)
        _rule(torch.allclose(w0, avg.to(w0).expand_as(w0), atol=atol), "truncation",
              f"truncation 0 must give the mean latent (max diff "
              f"{(w0 - avg.to(w0)).abs().max().item():.3g})")

        img = g.synthesize(w, noise_mode="const")
        _rule(tuple(img.shape) == (batch, 3, res, res), "image shape",
              f"synthesize gave {tuple(img.shape)}, expected ({batch}, 3, {res}, {res})")
        _rule(bool(torch.isfinite(img).all()), "finite images", "synthesize gave NaN or inf")
        peak = img.abs().max().item()
        _rule(peak <= max_abs, "image range", f"max |pixel| = {peak:.3g} > {max_abs} (expected "
              "images in about [-1, 1])")
        _rule(batch < 2 or (img[0] - img[1]).abs().max().item() > 1e-6, "depends on code",
              "two different codes rendered the same image")

        def same(a, b, rule, what):
            diff = (a - b).abs().max().item()
            _rule(diff <= atol * max(1.0, peak), rule, f"{what} (max diff {diff:.3g})")

        wplus = w.unsqueeze(1).repeat(1, n_ws, 1)
        same(g.synthesize(wplus, noise_mode="const"), img, "W vs W+ broadcast",
             "W (N, D) must render as W+ with the code repeated on every layer")
        same(g.synthesize(w, noise_mode="const"), img, "const noise determinism",
             "noise_mode='const' must render the same image twice")
        for mode in ("random", "none"):
            out = g.synthesize(w, noise_mode=mode)
            _rule(tuple(out.shape) == tuple(img.shape) and bool(torch.isfinite(out).all()),
                  f"noise_mode {mode}", f"gave shape {tuple(out.shape)} or non-finite values")
        singles = torch.cat([g.synthesize(wplus[i:i + 1], noise_mode="const") for i in range(batch)])
        same(singles, img, "batch consistency", "a batch must render as its samples one by one")

    wplus = wplus.detach().clone().requires_grad_(True)
    g.synthesize(wplus, noise_mode="const").square().mean().backward()
    grad = wplus.grad
    _rule(grad is not None and bool(torch.isfinite(grad).all()), "gradient to W+",
          "no finite gradient reached the W+ input")
    dead = [i for i in range(n_ws) if grad[:, i].abs().max().item() == 0.0]
    _rule(not dead, "gradient to W+", f"layers {dead} of W+ get no gradient")

    try:
        styles = g.styles(w)
    except NotImplementedError:
        return
    _rule(len(styles) > 0 and all(s.dim() == 2 and s.shape[0] == batch for s in styles),
          "styles", f"styles(w) must give one (N, C) tensor per layer, got "
          f"{[tuple(s.shape) for s in styles]}")


def check_editor(editor, generator, *, max_directions: int = 8, atol: float = 1e-5,
                 seed: int = 0) -> None:
    """Check a :class:`dynode_core.interfaces.Editor` against the contract on ``generator``.

    Rules: ``directions(generator)`` is a dict of names to directions whose ``name``
    matches its key; each vector is finite, (D,) or (num_ws, D), and normalised (a
    (D,) vector has unit norm, an (L, D) one has largest layer norm 1); ``scale``
    is a positive number; ``apply`` keeps the shape of W+ codes (N, L, D) and of
    one code (L, D), strength 0 changes nothing, and the change is linear in the
    strength (for the first ``max_directions`` directions).
    """
    d, n_ws = generator.latent_dim, generator.num_ws
    found = editor.directions(generator)
    _rule(isinstance(found, dict), "directions", f"directions() gave a {type(found).__name__}, "
          "expected a dict of name -> Direction")
    rng = torch.Generator().manual_seed(seed)
    codes = torch.randn(3, n_ws, d, generator=rng)
    for key, direction in list(found.items())[:max_directions]:
        _rule(isinstance(key, str) and key != "" and getattr(direction, "name", None) == key,
              "direction names", f"key {key!r} holds a direction named "
              f"{getattr(direction, 'name', None)!r}")
        vec = torch.as_tensor(direction.vector)
        _rule(tuple(vec.shape) in ((d,), (n_ws, d)), "direction shape",
              f"{key!r} has shape {tuple(vec.shape)}, expected ({d},) or ({n_ws}, {d})")
        _rule(bool(torch.isfinite(vec).all()), "finite direction", f"{key!r} holds NaN or inf")
        norm = float(vec.norm() if vec.dim() == 1 else vec.norm(dim=-1).max())
        _rule(abs(norm - 1.0) < 1e-4, "normalised direction",
              f"{key!r} has norm {norm:.6g} (largest layer norm for W+), expected 1")
        scale = getattr(direction, "scale", 1.0)
        _rule(isinstance(scale, (int, float)) and scale > 0, "scale",
              f"{key!r} has scale {scale!r}, expected a positive number")
        zero = editor.apply(codes, direction, 0.0)
        _rule(tuple(zero.shape) == tuple(codes.shape) and torch.allclose(zero, codes, atol=atol),
              "strength 0", f"apply(codes, {key!r}, 0) must return the codes unchanged")
        one, two = editor.apply(codes, direction, 1.0), editor.apply(codes, direction, 2.0)
        _rule(tuple(one.shape) == tuple(codes.shape), "apply shape",
              f"apply on {tuple(codes.shape)} gave {tuple(one.shape)}")
        _rule(torch.allclose(two - codes, 2 * (one - codes), atol=atol * 10), "linear in strength",
              f"apply(…, 2) - codes must be twice apply(…, 1) - codes for {key!r}")
        _rule((one - codes).abs().max().item() > 0, "apply moves", f"strength 1 of {key!r} "
              "left the codes unchanged")
        single = editor.apply(codes[0], direction, 1.0)
        _rule(tuple(single.shape) == (n_ws, d) and torch.allclose(single, one[0], atol=atol),
              "apply one code", "apply on one code (L, D) must match the batch's first row")


def check_inverter(inverter, generator, *, batch: int = 2, truncation: float = 0.5,
                   seed: int = 0, deterministic: bool = True) -> torch.Tensor:
    """Check a :class:`dynode_core.interfaces.Inverter` on images the generator made.

    Rules: ``invert`` returns (N, num_ws, D) finite float codes for N frames (N, 3, H, W)
    at the generator's resolution; it leaves the frames unchanged and accepts a progress
    callback; its reconstructions are closer (pixel MSE, averaged over the batch) to the
    frames than the mean latent's image; with ``deterministic``, inverting twice gives
    the same codes (what resumable video inversion relies on). Returns the codes.
    """
    g = generator
    ref = next(iter(g.parameters()), None) if isinstance(g, torch.nn.Module) else None
    device = ref.device if ref is not None else torch.device("cpu")
    z = torch.randn(batch, g.latent_dim, generator=torch.Generator().manual_seed(seed)).to(device)
    with torch.no_grad():
        frames = g.synthesize(g.mapping(z, truncation=truncation), noise_mode="const").clamp(-1, 1)
    original = frames.clone()
    calls = []
    codes = inverter.invert(frames, g, progress=lambda *a, **k: calls.append(a))
    _rule(torch.is_tensor(codes) and tuple(codes.shape) == (batch, g.num_ws, g.latent_dim),
          "code shape", f"invert gave {getattr(codes, 'shape', type(codes).__name__)}, "
          f"expected ({batch}, {g.num_ws}, {g.latent_dim})")
    _rule(codes.is_floating_point() and bool(torch.isfinite(codes).all()), "finite codes",
          "invert gave non-float, NaN or inf codes")
    _rule(torch.equal(frames, original), "frames untouched", "invert modified its input frames")
    with torch.no_grad():
        recon = g.synthesize(codes.detach().to(device), noise_mode="const")
        mean = g.synthesize(g.mean_latent().to(device).expand(batch, -1), noise_mode="const")
    err, base = (recon - frames).square().mean().item(), (mean - frames).square().mean().item()
    _rule(err < base, "improves on the mean latent",
          f"reconstruction MSE {err:.4g} is not below the mean latent's {base:.4g}")
    if deterministic:
        again = inverter.invert(frames, g)
        _rule(torch.equal(again.detach().cpu(), codes.detach().cpu()), "deterministic",
              f"inverting twice differs by {(again - codes).abs().max().item():.3g}")
    return codes


def _check_declared_dynamics(model) -> None:
    """The capabilities a fitted dynamics model declares (see :class:`dynode_core.Dynamics`)."""
    from collections.abc import Mapping

    from ..interfaces import Dynamics

    _rule(isinstance(model, Dynamics), "contract", f"{type(model).__name__} does not "
          "subclass dynode_core.Dynamics")
    for attr in ("controlled", "stochastic", "keyframe_corrected"):
        _rule(isinstance(getattr(model, attr), bool), "capabilities",
              f"{attr} = {getattr(model, attr)!r}, expected True or False")
    for attr in ("fit_stats", "fitted_info"):
        _rule(isinstance(getattr(model, attr), Mapping), "capabilities",
              f"{attr} must be a dict after fit, got {type(getattr(model, attr)).__name__}")


def tiny_trajectory(frames: int = 8, layers: int = 2, dim: int = 16, seed: int = 0):
    """A small smooth W+ trajectory at irregular times, for quick dynamics checks."""
    from ..trajectory import LatentTrajectory

    rng = torch.Generator().manual_seed(seed)
    steps = 0.5 + torch.rand(frames, generator=rng, dtype=torch.float64)
    times = torch.cumsum(steps, 0) - steps[0]
    freq = torch.randn(layers * dim, generator=rng)
    offset = torch.randn(layers * dim, generator=rng)
    codes = torch.sin(times.float()[:, None] * freq + offset) + 0.3 * times.float()[:, None]
    return LatentTrajectory(times, codes.reshape(frames, layers, dim), "w+",
                            {"source": "tiny_trajectory"})


def check_dynamics(factory_or_model, *, seed: int = 0, frames: int = 8, rtol: float = 1e-3,
                   **options) -> None:
    """Check a :class:`dynode_core.interfaces.Dynamics` factory (or model) against the contract.

    A factory (a class or function) is called with ``seed=`` and ``options``; a model
    is rebuilt from its ``config``. On :func:`tiny_trajectory` the rules are: ``fit``
    takes a progress callback and returns the model itself; ``config`` is a JSON-able
    dict; ``predict`` gives (N, L, D) finite float32 codes at observed, in-between and
    past-the-end times; predicting twice gives the same codes; ``propagate`` from the
    observed first code reproduces ``predict`` (within ``rtol`` of the codes' spread;
    skipped for models whose ``keyframe_corrected`` is true); ``state_dict`` holds
    tensors that save as safetensors and, loaded into a new model, reproduce the
    predictions; fitting again with the same seed gives the same predictions.
    """
    import json

    from safetensors.torch import load as st_load
    from safetensors.torch import save as st_save

    if hasattr(factory_or_model, "fit") and not isinstance(factory_or_model, type):
        model0 = factory_or_model
        config = dict(getattr(model0, "config", {}) or {})

        def make(**kw):
            return type(model0)(**{**config, **options, **kw})
    else:
        def make(**kw):
            return factory_or_model(**{**options, **kw})

    traj = tiny_trajectory(frames=frames)
    t = traj.times
    between = (t[:-1] + t[1:]) / 2
    past = t[-1] + (t[-1] - t[0]) * torch.tensor([0.1, 0.25], dtype=torch.float64)
    times = torch.cat([t, between, past]).sort().values
    n, layers, dim = len(times), traj.num_layers, traj.dim
    spread = float(traj.latents.std())
    model = make(seed=seed)
    fitted = model.fit(traj, progress=lambda *a, **k: None)
    _rule(fitted is model, "fit returns self", f"fit returned {type(fitted).__name__}, "
          "expected the model itself")
    _check_declared_dynamics(model)
    config = model.config
    _rule(isinstance(config, dict), "config", "model.config must be a dict of factory keywords")
    try:
        json.dumps(config)
    except (TypeError, ValueError) as exc:
        _rule(False, "config", f"model.config must be JSON-able: {exc}")

    def codes(fn, *args):
        return torch.as_tensor(fn(*args)).detach()

    pred = codes(model.predict, times)
    _rule(tuple(pred.shape) == (n, layers, dim), "predict shape",
          f"predict gave {tuple(pred.shape)} for {n} times, expected ({n}, {layers}, {dim})")
    _rule(pred.dtype == torch.float32, "predict dtype", f"predict gave {pred.dtype}, expected "
          "float32")
    _rule(bool(torch.isfinite(pred).all()), "predict finite",
          "predict gave NaN or inf at observed, in-between or past-the-end times")
    pred = pred.cpu()

    def close(a, b, rule, what, tol):
        diff = (torch.as_tensor(a).detach().cpu() - b).abs().max().item()
        _rule(diff <= tol * spread, rule, f"{what} (max diff {diff:.3g}, allowed "
              f"{tol * spread:.3g})")

    close(codes(model.predict, times), pred, "predict repeatable",
          "predicting the same times twice must give the same codes", 1e-6)
    if not model.keyframe_corrected:
        prop = codes(model.propagate, traj.latents[0], times)
        _rule(tuple(prop.shape) == (n, layers, dim), "propagate shape",
              f"propagate gave {tuple(prop.shape)}, expected ({n}, {layers}, {dim})")
        close(prop, pred, "propagate from the start",
              "propagate(first observed code) must reproduce predict", rtol)

    state = model.state_dict()
    _rule(isinstance(state, dict) and all(torch.is_tensor(v) for v in state.values()),
          "state_dict tensors", "state_dict() must be a dict of tensors")
    try:
        state = st_load(st_save({k: v.detach().cpu().contiguous().clone()
                                 for k, v in state.items()}))
    except Exception as exc:  # noqa: BLE001 - reported as the broken rule
        _rule(False, "state_dict safetensors", f"state_dict() does not save as safetensors: {exc}")
    fresh = make(seed=seed)
    fresh.load_state_dict(state)
    close(codes(fresh.predict, times), pred, "state_dict round trip",
          "a new model loaded from state_dict() must predict the same codes", 1e-5)
    again = make(seed=seed).fit(traj)
    close(codes(again.predict, times), pred, "deterministic under a seed",
          "fitting twice with the same seed must give the same predictions", 1e-5)
