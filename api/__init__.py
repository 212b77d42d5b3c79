"""geo_planner's HTTP service (FastAPI): a thin shell over the library.

Start it with ``uvicorn api.main:create_app --factory`` (settings from ``GEO_PLANNER_*``
environment variables, see :mod:`api.config`) or ``api.main.serve`` / ``api.main.serve_demo``.
"""
