"""Readers of third-party file formats that more than one plugin needs.

A public module of the component tier: any plugin may import it. It holds format code
only (how a file is laid out and read safely), never a model. Today:

- :mod:`dynode_core.formats.netpickle`: NVIDIA network pickles (stylegan2-ada-pytorch,
  StyleGAN3) read as plain data through a restricted unpickler, running nothing from
  the file (``load_network``, ``read_network_pickle``, ``is_network_pickle``,
  ``PickledModule``).
- :mod:`dynode_core.formats.conversion`: what every ``dynode convert`` shares (the output
  checks before the source is read, the source's SHA-256).
"""

from .conversion import check_conversion_paths, file_sha256
from .state import state_problems
from .netpickle import (PickledModule, RefusedGlobal, is_network_pickle, load_network,
                        read_network_pickle)

__all__ = ["PickledModule", "RefusedGlobal", "check_conversion_paths", "file_sha256",
           "is_network_pickle", "load_network", "read_network_pickle", "state_problems"]
