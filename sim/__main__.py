"""``python -m sim`` is the same as ``lbsim``."""

import sys

from sim.cli import main

sys.exit(main())
