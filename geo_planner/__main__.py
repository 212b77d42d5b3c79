"""``python -m geo_planner …``: the ``geo-planner`` command line."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
