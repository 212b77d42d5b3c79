"""``python -m api …``: the web service's command line (``geo-planner-serve``)."""

import sys

from .main import main

if __name__ == "__main__":
    sys.exit(main())
