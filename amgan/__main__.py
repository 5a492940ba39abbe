"""``python -m amgan``: the ``amgan`` command line."""
import sys

from amgan.cli import main

sys.exit(main())
