"""``python -m dynode_core`` runs the ``dynode`` command."""

import sys

from .cli import main

sys.exit(main())
