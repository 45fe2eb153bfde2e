"""`python -m attento`: the same command line as `attento`, for environments without its script."""

import sys

from attento.cli import main

sys.exit(main())
