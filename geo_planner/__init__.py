"""geo_planner: service-coverage planning for retired-cadre departments.

Stages, in the one direction data flows::

    io → crs/geocode → network → travel → coverage → dispersion → siting → maps/export

``geo_planner.pipeline`` is the only module that knows that order.
"""

__version__ = "0.1.0"
