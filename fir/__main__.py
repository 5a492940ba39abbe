"""``python -m fir``: the ``fir`` command line."""
import sys

from fir.cli import main

sys.exit(main())
