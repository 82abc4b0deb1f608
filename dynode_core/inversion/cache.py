"""A resumable cache of inverted codes: one safetensors chunk per batch, plus a manifest.

``manifest.json`` (format ``dynode.inversion-cache/1``) records the settings the
codes depend on (source, batch size, crop, generator and inverter fingerprints).
Opening a folder whose manifest records other settings raises
:class:`InputError` naming the settings that differ: such a cache is never
mixed with new codes. Chunks are written atomically, so an interrupted run
leaves only whole chunks; each chunk also stores its frame times, which must
match the frames being inverted for it to be reused.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from ..errors import InputError
from ..io import atomic_write_text, write_safetensors

FORMAT = "dynode.inversion-cache/1"
MANIFEST = "manifest.json"


def fingerprint(module) -> str:
    """A short hash of a module's tensors (names, shapes, sums), to tell weights apart
    (anything that is not a ``torch.nn.Module`` has no weights: the hash of nothing)."""
    digest = hashlib.sha256()
    state = module.state_dict() if isinstance(module, torch.nn.Module) else {}
    for name, tensor in state.items():
        t = tensor.detach()
        digest.update(f"{name}{tuple(t.shape)}".encode())
        if t.numel() and (t.is_floating_point() or t.is_complex()):
            t = t.double()
            digest.update(f"{t.sum().item():.12e},{t.abs().sum().item():.12e}".encode())
        elif t.numel():
            digest.update(str(t.sum().item()).encode())
    return digest.hexdigest()[:16]


def clear_cache(folder) -> None:
    """Remove an inversion cache (its manifest and chunks); refuse a folder that is not one."""
    folder = Path(folder)
    if not folder.exists():
        return
    if not (folder / MANIFEST).exists():
        if any(folder.iterdir()):
            raise InputError(f"cache folder {folder} holds files and no {MANIFEST}: "
                             "not an inversion cache, refusing to empty it")
        return
    for path in folder.glob("batch_*.safetensors"):
        path.unlink()
    (folder / MANIFEST).unlink()


def _normalise(settings: dict) -> dict:
    return json.loads(json.dumps(settings, sort_keys=True, default=str))


def _differences(old: dict, new: dict, prefix: str = "") -> list[str]:
    keys = sorted(set(old) | set(new))
    out = []
    for key in keys:
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key} ({a!r} -> {b!r})")
    return out


class InversionCache:
    """Codes per batch in ``folder``; see the module docstring."""

    def __init__(self, folder, settings: dict):
        self.folder = Path(folder)
        self.settings = _normalise(settings)
        manifest = self.folder / MANIFEST
        if manifest.exists():
            try:
                stored = json.loads(manifest.read_text())
            except (OSError, ValueError) as exc:
                raise InputError(f"inversion cache {self.folder}: unreadable manifest ({exc}); "
                                 "delete the folder to start over") from None
            if stored.get("format") != FORMAT:
                raise InputError(f"inversion cache {self.folder} has format "
                                 f"{stored.get('format')!r}, not {FORMAT}; delete it to start over")
            diff = _differences(stored.get("settings", {}), self.settings)
            if diff:
                raise InputError(f"inversion cache {self.folder} was made with other settings: "
                                 f"{'; '.join(diff)}; delete it (or drop --resume) to start over")
        else:
            if self.folder.exists() and any(self.folder.iterdir()):
                raise InputError(f"cache folder {self.folder} exists, holds files and no "
                                 f"{MANIFEST}: not an inversion cache, refusing to use it")
            self.folder.mkdir(parents=True, exist_ok=True)
            atomic_write_text(manifest, json.dumps({"format": FORMAT, "settings": self.settings},
                                                   indent=2) + "\n")

    def chunk_path(self, index: int) -> Path:
        return self.folder / f"batch_{index:06d}.safetensors"

    def load(self, index: int, times: torch.Tensor) -> torch.Tensor | None:
        """The cached codes of batch ``index`` if present and made for these ``times``."""
        from safetensors.torch import load_file

        path = self.chunk_path(index)
        if not path.exists():
            return None
        try:
            chunk = load_file(str(path))
        except Exception:  # noqa: BLE001 - a damaged chunk is recomputed
            return None
        stored = chunk.get("times")
        if stored is None or stored.shape != times.shape or not torch.equal(stored, times):
            return None
        return chunk.get("codes")

    def save(self, index: int, codes: torch.Tensor, times: torch.Tensor) -> None:
        write_safetensors(self.chunk_path(index), {"codes": codes.float(), "times": times},
                          fmt=FORMAT)
