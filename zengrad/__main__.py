"""`python -m zengrad ...` runs the command-line interface."""

import sys

from zengrad.cli import main

sys.exit(main())
