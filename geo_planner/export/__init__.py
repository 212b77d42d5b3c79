"""Writing result tables for people and for GIS: XLSX, CSV, GeoJSON and GeoPackage.

Planners open results in Excel or WPS, so by default the headers are Chinese
(:data:`HEADERS`), coded values are translated (``new_station`` → 新建驿站, ``lixiu`` →
离休, ``True`` → 是) — :mod:`.labels` — and:

* **XLSX** (:mod:`.xlsx`, openpyxl plus streamed rows): bold header row frozen (``A2``),
  auto-filter, column widths from the content (CJK characters count double, capped), text
  cells stay text (a value such as ``=HYPERLINK(…)`` or ``001`` is never turned into a
  formula or a number);
* **CSV**: UTF-8 with a byte-order mark, so Excel shows Chinese; text cells starting with
  ``=``, ``+``, ``-`` or ``@`` that are not numbers get a leading apostrophe, so a
  spreadsheet never runs them as formulas;
* **GeoJSON / GeoPackage**: one point per row from ``lon``/``lat`` (WGS-84, EPSG:4326;
  rows without coordinates keep a null geometry), the layer named after the table.

``language="en"`` keeps the canonical column names documented in the README (``id``,
``walk_min_branch``…) and the coded values, which is also what scripts want.
Semicolon-joined lists (``member_ids``, ``branch_ids``) always stay strings.

Every file is written atomically (:func:`geo_planner.atomic.atomic_write`) by
:func:`export_table` (:mod:`.writers`).  :func:`redact_for_role`, re-exported from
:mod:`geo_planner.privacy` (where every role rule lives), removes what a *viewer* may not see
before a table leaves the library (the API calls it).
"""

from __future__ import annotations

from ..privacy import redact_for_role
from ..vocab import VALUE_LABELS, ExportFormat, Language, Role, TableName
from .labels import HEADERS, header_label, translate_frame
from .writers import export_table

__all__ = [
    "HEADERS",
    "VALUE_LABELS",
    "ExportFormat",
    "Language",
    "Role",
    "TableName",
    "export_table",
    "header_label",
    "redact_for_role",
    "translate_frame",
]
