"""``python -m sim.cli``: the same as ``lbsim``."""

import sys

from sim.cli import main

if __name__ == "__main__":  # importing this module runs nothing
    sys.exit(main())
