"""Reading planners' tables (members, branches, stations, hospitals).

Planners keep their data in whatever their office produced: CSV saved by Excel or WPS in
GBK/GB18030, UTF-8 with or without a byte-order mark, XLSX workbooks with a title row above
the header, GeoJSON or GeoPackage exported from a GIS.  This package is the one door
through which those tables enter geo_planner:

* :func:`read_table` reads any of them into a frame of **strings** (ids such as ``001``
  keep their zeros), detecting the text encoding from the bytes (:mod:`.readers`,
  :mod:`.xlsx`, :mod:`.vector`);
* :func:`load_layer` maps the headers to canonical names (:data:`HEADER_ALIASES`, in
  :mod:`.aliases`: the one place to add an input column), checks every row
  (:mod:`.fields`), converts coordinates to WGS-84 (:mod:`.coords`) and returns a
  :class:`LayerResult`: the accepted rows as a GeoDataFrame plus one rejection/warning line
  per problem — every input row is either accepted or rejected with its file, row, field
  and reason (:mod:`.layers`);
* :func:`write_rejections` writes those lines atomically (:mod:`.rejections`).

Row numbers are the ones a planner sees in a spreadsheet: the header is row 1 (or the row
the header was found on) and the first data row is row 2.  For GeoJSON/GeoPackage, feature
``i`` (0-based) is row ``i + 2``, as in its attribute table exported to a spreadsheet.
"""

from __future__ import annotations

from ..vocab import LAYER_KINDS, LayerKind
from .aliases import HEADER_ALIASES, IGNORE, layer_fields, match_columns, propose_columns
from .layers import LayerResult, load_layer
from .readers import detect_encoding, read_table
from .rejections import REJECTION_COLUMNS, write_rejections

__all__ = [
    "HEADER_ALIASES",
    "IGNORE",
    "LAYER_KINDS",
    "REJECTION_COLUMNS",
    "LayerKind",
    "LayerResult",
    "detect_encoding",
    "layer_fields",
    "load_layer",
    "match_columns",
    "propose_columns",
    "read_table",
    "write_rejections",
]
