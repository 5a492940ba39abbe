"""``python -m demo``: the same as ``python -m demo.app`` (see :mod:`demo.app`)."""
import sys

from demo.app import main

sys.exit(main())
