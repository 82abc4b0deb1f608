"""Read NVIDIA network pickles (stylegan2-ada-pytorch, StyleGAN3) as plain data, running
nothing from them.

A network pickle (``network-snapshot-*.pkl``, ``ffhq.pkl``) is a pickled dict
``{'G', 'D', 'G_ema', 'augment_pipe', 'training_set_kwargs'}`` whose networks are calls of
``torch_utils.persistence._reconstruct_persistent_obj(meta)``; ``meta['module_src']`` is
Python source that NVIDIA's own loader executes. Here a :class:`pickle.Unpickler` whose
``find_class`` knows only the globals such files need (tensor and storage rebuilding, plain
containers, NumPy scalars and numeric NumPy arrays) turns every persistent object into a :class:`PickledModule`:
the class name and the module's ``state`` (parameters, buffers, submodules, attributes).
``module_src`` is dropped unread and no other global is ever imported. The file is read as a
stream, so the peak memory is about the file's bytes plus its tensors.
"""

from __future__ import annotations

import collections
import io
import pickle
import warnings
from pathlib import Path

import numpy as np
import torch

from ..errors import InputError

TF_NETWORK = ("dnnlib.tflib.network", "Network")
TF_MESSAGE = ("is a TensorFlow-era StyleGAN/StyleGAN2 pickle (dnnlib.tflib.network.Network): "
              "convert it with stylegan2-ada-pytorch's legacy.py first")
TORCH_LEGACY_MAGIC = b"\x80\x02\x8a\nl\xfc\x9cF\xf9 j\xa8P\x19."


class PickledModule:
    """A network from a pickle, as data: ``class_name`` and the module's ``state`` dict.

    ``state`` is the module's ``__dict__`` as pickled: ``_parameters``, ``_buffers`` and
    ``_modules`` (submodules, again :class:`PickledModule`), ``_init_kwargs`` and plain
    attributes (``z_dim``, ``conv_clamp``, ...). Nothing of the original class is run.
    """

    def __init__(self, class_name: str, state: dict):
        self.class_name, self.state = class_name, state

    def __repr__(self):
        return f"PickledModule({self.class_name}, {len(self.state_dict())} tensors)"

    @property
    def modules(self) -> dict:
        """Direct submodules by name."""
        return dict(self.state.get("_modules") or {})

    @property
    def init_kwargs(self) -> dict:
        """The keyword arguments the network was built with (``_init_kwargs``)."""
        return dict(self.state.get("_init_kwargs") or {})

    def attr(self, name: str, default=None):
        """A plain attribute of the module (``z_dim``, ``conv_clamp``, ``architecture``...)."""
        return self.state.get(name, default)

    def named_modules(self, prefix: str = ""):
        """(dotted name, module) for this module and all submodules, depth first; a module
        shared by several parents comes once, under its first name (as torch does)."""
        seen: set[int] = set()
        stack = [(prefix.rstrip("."), self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(f"{name}.{key}" if name else key, child)
                        for key, child in module.modules.items()
                        if isinstance(child, PickledModule)]
            stack.extend(reversed(children))

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Parameters and persistent buffers of the module tree, under dotted names."""
        out = {}
        for name, module in self.named_modules():
            skip = set(module.state.get("_non_persistent_buffers_set") or ())
            tensors = {**(module.state.get("_parameters") or {}),
                       **{k: v for k, v in (module.state.get("_buffers") or {}).items()
                          if k not in skip}}
            for key, value in tensors.items():
                if value is not None:
                    out[f"{name}.{key}" if name else key] = value
        return out


class _EasyDict(dict):
    """Stands in for ``dnnlib.util.EasyDict`` (a dict with attribute access)."""


def _persistent(meta):
    if not isinstance(meta, dict) or meta.get("type") != "class" or "state" not in meta:
        raise pickle.UnpicklingError("a persistent object without a class state")
    if not isinstance(meta["state"], dict):
        raise pickle.UnpicklingError(f"persistent {meta.get('class_name')} has no state dict")
    return PickledModule(str(meta.get("class_name")), meta["state"])


def _load_storage(data):
    if not isinstance(data, bytes):
        raise pickle.UnpicklingError("a tensor storage that is not bytes")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


def _rebuild_tensor(storage, offset, size, stride, requires_grad, hooks, metadata=None):
    if hooks:
        raise pickle.UnpicklingError("a tensor with backward hooks")
    return torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, {})


def _rebuild_parameter(data, requires_grad, hooks):
    if hooks or not isinstance(data, torch.Tensor):
        raise pickle.UnpicklingError("a parameter that is not a plain tensor")
    return data


def _numpy_scalar(dtype, data=None):
    if not isinstance(dtype, np.dtype) or dtype.hasobject or not isinstance(data, bytes):
        raise pickle.UnpicklingError("a NumPy scalar that is not a number")
    return np.frombuffer(data, dtype=dtype)[0]


#: The largest NumPy array a network pickle may hold (StyleGAN3 keeps only sizes there).
MAX_ARRAY_BYTES = 1 << 24
NUMERIC_KINDS = "biuf"


class _NdarrayName:
    """What ``numpy.ndarray`` resolves to: a name for :func:`_reconstruct_array`, never a
    constructor (calling it fails)."""

    def __repr__(self):
        return "numpy.ndarray"


NDARRAY = _NdarrayName()


class GuardedArray(np.ndarray):
    """An ndarray from a pickle, filled only from a numeric dtype, a plain shape and raw
    bytes of exactly the right length (no object arrays, bounded size)."""

    def __setstate__(self, state):
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise pickle.UnpicklingError("an ndarray state that is not (shape, dtype, order, data)")
        shape, dtype, fortran, data = state[-4:]
        if not isinstance(dtype, np.dtype) or dtype.hasobject or dtype.kind not in NUMERIC_KINDS \
                or dtype.fields is not None or dtype.subdtype is not None:
            raise pickle.UnpicklingError(f"an ndarray of dtype {dtype!r} (only numbers are read)")
        if not isinstance(shape, tuple) or not all(type(n) is int and 0 <= n for n in shape) \
                or len(shape) > 8:
            raise pickle.UnpicklingError(f"an ndarray of shape {shape!r}")
        size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if size > MAX_ARRAY_BYTES or not isinstance(data, bytes) or len(data) != size \
                or not isinstance(fortran, bool):
            raise pickle.UnpicklingError(f"an ndarray whose data is not {size} bytes "
                                         f"(at most {MAX_ARRAY_BYTES})")
        super().__setstate__(state)


def _reconstruct_array(subtype, shape, typecode):
    """``numpy.core.multiarray._reconstruct``: an empty :class:`GuardedArray` that the
    pickle's BUILD then fills through :meth:`GuardedArray.__setstate__`."""
    if subtype is not NDARRAY or shape != (0,) or typecode not in (b"b", "b"):
        raise pickle.UnpicklingError("an ndarray reconstruction other than numpy's own")
    return np.ndarray.__new__(GuardedArray, (0,), np.int8)


def _latin1(text, encoding="latin1"):
    if not isinstance(text, str) or encoding != "latin1":
        raise pickle.UnpicklingError("_codecs.encode outside the bytes of protocol 2")
    return text.encode("latin1")


# The globals of NVIDIA's files (see ../shared/fixtures/stylegan2-nvidia/README.md), plus
# builtins.set and _codecs.encode, which protocols 2 and 3 use for sets and bytes, and the
# ndarrays of StyleGAN3 files (../shared/fixtures/stylegan3-nvidia/README.md), under the
# module names of NumPy 2.x (numpy._core) and 1.x (numpy.core).
ALLOWED = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _persistent,
    ("dnnlib.util", "EasyDict"): _EasyDict,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch.storage", "_load_from_bytes"): _load_storage,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy", "dtype"): np.dtype,
    ("numpy", "ndarray"): NDARRAY,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct_array,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct_array,
    ("builtins", "set"): set,
    ("__builtin__", "set"): set,  # protocol 2 as Python 3 writes it
    ("_codecs", "encode"): _latin1,
}


class RefusedGlobal(pickle.UnpicklingError):
    """The pickle names a global outside :data:`ALLOWED` (it was not imported)."""

    def __init__(self, module: str, name: str):
        super().__init__(f"{module}.{name}")
        self.module, self.name = module, name


class SafeUnpickler(pickle.Unpickler):
    """Unpickler that resolves only :data:`ALLOWED` globals and no persistent ids."""

    def find_class(self, module, name):
        """The stand-in for an allowed global; :class:`RefusedGlobal` for any other."""
        try:
            return ALLOWED[(module, name)]
        except (KeyError, TypeError):
            raise RefusedGlobal(str(module), str(name)) from None

    def persistent_load(self, pid):
        """Network pickles hold no persistent ids (those are torch.save files)."""
        raise pickle.UnpicklingError("a persistent id (a torch.save file, not a network pickle)")


def is_network_pickle(path) -> bool:
    """True for a plain pickle stream (not a torch.save zip or legacy file)."""
    with open(path, "rb") as fh:
        head = fh.read(len(TORCH_LEGACY_MAGIC))
    return head[:1] == b"\x80" and not head.startswith(TORCH_LEGACY_MAGIC)


def _refusal(path: Path, exc: RefusedGlobal) -> InputError:
    if (exc.module, exc.name) == TF_NETWORK:
        return InputError(f"{path} {TF_MESSAGE}")
    return InputError(f"{path}: refused as a network pickle: loading it would run code "
                      f"({exc.module}.{exc.name}); dynode reads only tensors, containers and "
                      "the network classes it knows (nothing from the file was run)")


def read_network_pickle(path) -> dict:
    """The top-level dict of a network pickle, networks as :class:`PickledModule`.

    Raises :class:`InputError` (one line) for any global outside :data:`ALLOWED`, for
    TensorFlow-era pickles, for a whole pickled module and for files that are no such dict.
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            obj = SafeUnpickler(fh).load()
    except RefusedGlobal as exc:
        raise _refusal(path, exc) from None
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - any other failure is the user's file
        detail = str(exc).splitlines()[0][:120] if str(exc) else "truncated or empty file"
        raise InputError(f"cannot read {path} as a network pickle "
                         f"({type(exc).__name__}: {detail})") from None
    if isinstance(obj, PickledModule):
        raise InputError(f"{path} holds one whole pickled {obj.class_name} module (as STIT and "
                         "PTI save tuned generators), not a network pickle dict: give the "
                         "network pickle it came from, or its weights in a layout dynode reads")
    if not isinstance(obj, dict) or not any(isinstance(v, PickledModule) for v in obj.values()):
        kind = f"a dict with keys {', '.join(map(str, list(obj)[:6]))}" if isinstance(obj, dict) \
            else f"a {type(obj).__name__}"
        raise InputError(f"{path} is not an NVIDIA network pickle: it holds {kind}")
    for network in obj.values():
        if isinstance(network, PickledModule):
            problem = _structure_problem(network)
            if problem:
                raise InputError(f"{path}: not a well-formed network pickle: {problem}")
    return obj


#: Bounds of a module graph: nesting depth and modules per network (StyleGAN3 at 1024 px
#: has a few hundred; a pickle beyond these is refused rather than walked).
MAX_DEPTH, MAX_MODULES = 64, 100_000


def _module_problem(name: str, module: PickledModule) -> str | None:
    """What is wrong with one module's state, or None."""
    state = module.state
    for key in ("_modules", "_parameters", "_buffers"):
        value = state.get(key)
        if value is not None and not isinstance(value, dict):
            return f"{name or 'the network'}.{key} is a {type(value).__name__}, not a dict"
        for item, entry in (value or {}).items():
            allowed = (PickledModule,) if key == "_modules" else (torch.Tensor,)
            if not isinstance(item, str) or not (entry is None or isinstance(entry, allowed)):
                return f"{name or 'the network'}.{key}[{item!r}] is a {type(entry).__name__}"
    return None


def _structure_problem(network: PickledModule) -> str | None:
    """A cycle, a graph beyond the bounds, or a malformed module; None when well formed.
    Each module is visited once (shared submodules are not walked again)."""
    done: set[int] = set()
    path: set[int] = set()
    stack = [("", network, 0, False)]
    while stack:
        name, module, depth, leaving = stack.pop()
        if leaving:
            path.discard(id(module))
            continue
        if id(module) in path:
            return f"its module graph has a cycle at {name}"
        if id(module) in done:
            continue
        if depth > MAX_DEPTH or len(done) >= MAX_MODULES:
            return f"its module graph is deeper than {MAX_DEPTH} or larger than {MAX_MODULES:,}"
        problem = _module_problem(name, module)
        if problem:
            return problem
        done.add(id(module))
        path.add(id(module))
        stack.append((name, module, depth, True))
        for key, child in (module.state.get("_modules") or {}).items():
            if isinstance(child, PickledModule):
                stack.append((f"{name}.{key}" if name else key, child, depth + 1, False))
    return None


def load_network(path, network: str = "G_ema") -> PickledModule:
    """One network (``G_ema``, ``G`` or ``D``) of a network pickle, as plain data."""
    nets = read_network_pickle(path)
    found = nets.get(network)
    if not isinstance(found, PickledModule):
        have = [k for k, v in nets.items() if isinstance(v, PickledModule)]
        raise InputError(f"{path} has no network {network!r} (it has {', '.join(map(str, have))})")
    return found
