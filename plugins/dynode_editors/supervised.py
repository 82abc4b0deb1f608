"""Supervised directions (InterFaceGAN style): a linear boundary fitted in W from labels.

Shen et al., "Interpreting the Latent Space of GANs for Semantic Face Editing"
(CVPR 2020): label sampled codes, fit a linear model in W, and move along the
unit normal of its boundary (towards the larger label). Labels come from

- a CSV of ``index,label`` rows: sample ``index`` is row ``index`` of
  ``torch.randn(N, D, generator=torch.Generator().manual_seed(seed))``, mapped to
  W (see :func:`dynode_editors.vectors.sample_w`); a header row is allowed;
- a callable ``labels(images) -> (N,) numbers`` given ``samples`` rendered images
  (N, 3, H, W) in [-1, 1] of the same seeded codes.

Two distinct labels fit a classifier (``svm``: LinearSVC, or ``logistic``); more
fit a regressor (``ridge`` or ``linear``). A generator may ship ready directions
through :meth:`dynode_core.Generator.named_directions`; they are offered too, e.g. ``supervised:hue:1.0``.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from dynode_core import Direction, Editor, Generator, InputError

from .vectors import layer_label, parse_layers, require, restrict, sample_w, unit


def _svm():
    from sklearn.svm import LinearSVC

    return LinearSVC(C=1.0, max_iter=20_000)


def _logistic():
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=5_000)


def _ridge():
    from sklearn.linear_model import Ridge

    return Ridge(alpha=1.0)


def _linear():
    from sklearn.linear_model import LinearRegression

    return LinearRegression()


#: name -> (builds the scikit-learn model, True for binary labels / False for continuous).
MODELS: dict[str, tuple[Callable, bool]] = {
    "svm": (_svm, True), "logistic": (_logistic, True),
    "ridge": (_ridge, False), "linear": (_linear, False),
}
DEFAULT_MODEL = {True: "svm", False: "ridge"}


def read_label_csv(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """(indices, labels) from a CSV of ``index,label`` rows (a non-numeric header is skipped)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no such label file: {path}")
    indices, labels = [], []
    with path.open(newline="") as handle:
        for line, row in enumerate(csv.reader(handle), start=1):
            if not row or not "".join(row).strip():
                continue
            try:
                index, label = int(row[0]), float(row[1])
            except (ValueError, IndexError):
                if line == 1:
                    continue  # header
                raise InputError(f"{path}:{line}: expected 'index,label', got {row!r}") from None
            indices.append(index)
            labels.append(label)
    if not indices or min(indices) < 0:
        raise InputError(f"{path}: needs rows 'index,label' with indices >= 0")
    return np.asarray(indices), np.asarray(labels)


def fit_boundary(w: np.ndarray, labels: np.ndarray, model: str | None = None):
    """Fit a linear model of ``labels`` on W codes; returns (unit normal (D,), fitted model)."""
    labels = np.asarray(labels, dtype=np.float64).reshape(-1)
    if len(labels) != len(w):
        raise InputError(f"{len(labels)} labels for {len(w)} codes")
    distinct = np.unique(labels)
    if len(distinct) < 2:
        raise InputError("labels must take at least two values")
    binary = len(distinct) == 2
    name = model or DEFAULT_MODEL[binary]
    if name not in MODELS:
        raise InputError(f"unknown model {name!r}; valid models: {', '.join(MODELS)}")
    build, for_binary = MODELS[name]
    if for_binary != binary:
        kind = "binary" if binary else f"continuous ({len(distinct)} distinct values)"
        raise InputError(f"model {name!r} does not fit {kind} labels; use "
                         f"{', '.join(n for n, (_, b) in MODELS.items() if b == binary)}")
    w = np.asarray(w, dtype=np.float64)
    mean, spread = w.mean(0), w.std(0) + 1e-12
    # Fitted on standardised codes (fast, well-conditioned); coef / spread is the raw-W normal.
    fitted = build().fit((w - mean) / spread, labels > distinct[0] if binary else labels)
    normal = torch.as_tensor(np.asarray(fitted.coef_, dtype=np.float64).reshape(-1) / spread)
    return unit(normal), Standardised(fitted, mean, spread)


class Standardised:
    """A fitted scikit-learn model with the standardisation of its inputs."""

    def __init__(self, model, mean: np.ndarray, spread: np.ndarray) -> None:
        self.model, self.mean, self.spread = model, mean, spread

    def score(self, w, labels) -> float:
        return float(self.model.score((np.asarray(w) - self.mean) / self.spread, labels))

    @property
    def name(self) -> str:
        return type(self.model).__name__


def named_directions(generator) -> dict[str, Direction]:
    """Directions a generator ships (:meth:`dynode_core.Generator.named_directions`)."""
    return dict(generator.named_directions()) if isinstance(generator, Generator) else {}


class SupervisedEditor(Editor):
    """A direction fitted from ``labels`` (CSV path or callable), plus the generator's named ones.

    ``name``: the direction's name (default: the CSV's stem, or the callable's name).
    ``samples``: codes to render for a callable (a CSV's largest index sets it otherwise).
    ``seed``/``truncation``: how the codes are drawn. ``model``: see :data:`MODELS`.
    ``layers``: W+ indices to move (default all).
    """

    def __init__(self, labels=None, name: str | None = None, samples: int = 1000, seed: int = 0,
                 truncation: float = 1.0, model: str | None = None, layers="all",
                 batch_size: int = 16) -> None:
        self.labels, self.name, self.samples, self.seed = labels, name, int(samples), int(seed)
        self.truncation, self.model, self.layers = float(truncation), model, layers
        self.batch_size = int(batch_size)
        self._cache: dict[int, Direction] = {}

    def _label_name(self) -> str:
        if self.name:
            return self.name
        if callable(self.labels):
            label = getattr(self.labels, "__name__", "")
            return label if label.isidentifier() else "label"
        return Path(self.labels).stem

    def _codes_and_labels(self, generator) -> tuple[np.ndarray, np.ndarray]:
        if callable(self.labels):
            w = sample_w(generator, self.samples, self.seed, truncation=self.truncation)
            labels = []
            device = next(iter(generator.parameters())).device
            with torch.no_grad():
                for chunk in w.split(self.batch_size):
                    images = generator.synthesize(chunk.to(device), noise_mode="const")
                    labels.append(np.asarray(torch.as_tensor(self.labels(images)).cpu(),
                                             dtype=np.float64).reshape(-1))
            return w.numpy(), np.concatenate(labels)
        indices, labels = read_label_csv(self.labels)
        w = sample_w(generator, int(indices.max()) + 1, self.seed, truncation=self.truncation)
        return w.numpy()[indices], labels

    def fitted(self, generator) -> Direction:
        """The direction fitted from ``labels`` for ``generator`` (cached)."""
        key = id(generator)
        if key not in self._cache:
            require(generator, editor="supervised")
            w, labels = self._codes_and_labels(generator)
            normal, model = fit_boundary(w, labels, self.model)
            layers = parse_layers(self.layers, generator.num_ws)
            score = model.score(w, labels > labels.min() if len(np.unique(labels)) == 2 else labels)
            self._cache[key] = Direction(
                self._label_name(), restrict(normal.float(), layers, generator.num_ws),
                f"{model.name} on {len(labels)} labelled samples (train score "
                f"{score:.3f}; {layer_label(layers)})")
        return self._cache[key]

    def directions(self, generator) -> dict[str, Direction]:
        if not isinstance(generator, Generator):
            require(None, editor="supervised")  # named or fitted directions need a generator
        out = named_directions(generator)
        if self.labels is not None:
            direction = self.fitted(generator)
            out[direction.name] = direction
        return out
