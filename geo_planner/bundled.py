"""Where the bundled data are: the OSM extracts and the seeded demo tables.

They are package data of ``geo_planner`` (``geo_planner/data``, a link to the repository's
``data/`` folder that a wheel carries as files), read through :mod:`importlib.resources`, so
an installed wheel finds them as well as a source checkout. The ``GEO_PLANNER_BUNDLED_DATA``
environment variable points elsewhere.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

#: Environment variable naming the bundled data folder (it holds ``osm/`` and ``demo/``).
ENV_VAR = "GEO_PLANNER_BUNDLED_DATA"


def data_dir() -> Path:
    """Return the folder of the bundled data (``osm/`` extracts, ``demo/`` scenario).

    ``$GEO_PLANNER_BUNDLED_DATA`` if set, else the package data (``importlib.resources``),
    else ``./data``.

    Returns
    -------
    pathlib.Path
        The folder, links resolved (it may not exist: callers report the missing file).
    """
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser().resolve()
    packaged = resources.files("geo_planner").joinpath("data")
    if packaged.is_dir():
        return Path(str(packaged)).resolve()
    return Path("data").resolve()
