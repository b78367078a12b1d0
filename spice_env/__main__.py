"""``python -m spice_env`` is the ``spice`` command."""

import sys

from spice_env.cli import main

sys.exit(main())
