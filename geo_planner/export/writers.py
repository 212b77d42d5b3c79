"""Writing a result table as XLSX, CSV, GeoJSON or GeoPackage, atomically."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from ..atomic import atomic_write
from ..errors import InputError
from ..vocab import FORMATS, LANGUAGES, ExportFormat, Language, TableName
from .labels import SHEET_NAMES, check_table, translate_frame
from .xlsx import write_xlsx

__all__ = ["export_table"]

_FORMULA_CHARS: Final[str] = "=+-@\t\r"
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def _format_of(path: Path, fmt: str | None) -> str:
    """Return the export format: ``fmt``, else from the file's extension (``.json`` is GeoJSON)."""
    if fmt is None:
        suffix = path.suffix.lower().lstrip(".")
        fmt = {"json": "geojson", "xls": "xlsx"}.get(suffix, suffix)
    if fmt not in FORMATS:
        raise ValueError(
            f"{path}: cannot tell the export format from {path.suffix!r}; "
            f"pass fmt= one of {', '.join(FORMATS)} or use that extension"
        )
    return fmt


def _is_missing(value: object) -> bool:
    """Whether a cell is empty: ``None``, ``NA``, ``NaT`` or a float NaN."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _csv_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Prefix ``'`` to text cells a spreadsheet would run as a formula (not to numbers)."""
    out = frame.copy()
    for i in range(out.shape[1]):
        s = out.iloc[:, i]
        if pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
            continue
        values = s.astype("object").tolist()
        risky = [
            j for j, v in enumerate(values)
            if isinstance(v, str) and v != "" and v[0] in _FORMULA_CHARS and _NUMBER.match(v.strip()) is None
        ]
        if risky:
            for j in risky:
                values[j] = "'" + values[j]
            out.isetitem(i, pd.Series(values, index=s.index, dtype="object"))
    return out


def _geo_frame(df: pd.DataFrame, table: str, language: Language, branch_limit_min: float | None) -> Any:
    """Return the table as a WGS-84 GeoDataFrame of translated attributes (points from lon/lat)."""
    import geopandas as gpd

    if "lon" in df.columns and "lat" in df.columns:
        lon = pd.to_numeric(df["lon"], errors="coerce").to_numpy(dtype="float64")
        lat = pd.to_numeric(df["lat"], errors="coerce").to_numpy(dtype="float64")
        geom = gpd.points_from_xy(lon, lat, crs="EPSG:4326")
        ok = np.isfinite(lon) & np.isfinite(lat)
        geom = gpd.GeoSeries(geom, index=df.index, crs="EPSG:4326").where(ok, None)
    elif isinstance(df, gpd.GeoDataFrame) and df.geometry.name in df.columns:
        geom = df.geometry if df.crs is None else df.geometry.to_crs("EPSG:4326")
        if df.crs is None:
            geom = geom.set_crs("EPSG:4326")
    else:
        raise InputError(
            f"table '{table}' has no lon/lat columns and no geometry; export it as xlsx or csv instead"
        )
    attrs = translate_frame(df, table, language, branch_limit_min=branch_limit_min,  # type: ignore[arg-type]
                            beyond_as_text=False)
    for i in range(attrs.shape[1]):
        s = attrs.iloc[:, i]
        if s.dtype == object or isinstance(s.dtype, pd.StringDtype):
            # mixed Python objects cannot be typed by the driver: keep text as text
            attrs.isetitem(i, s.map(lambda v: None if _is_missing(v) else str(v)).astype("object"))
    attrs.columns = [str(c) for c in attrs.columns]
    return gpd.GeoDataFrame(attrs, geometry=geom.to_numpy(), crs="EPSG:4326")


def export_table(
    df: pd.DataFrame,
    path: Path | str,
    *,
    table: TableName,
    fmt: ExportFormat | None = None,
    language: Language = "zh",
    sheet_name: str | None = None,
    branch_limit_min: float | None = None,
    personal: bool = False,
) -> Path:
    """Write a result table as XLSX, CSV, GeoJSON or GeoPackage.

    Parameters
    ----------
    df
        The table with canonical column names (``lon``/``lat`` in WGS-84 for the
        GIS formats; a GeoDataFrame without lon/lat is written with its own geometry).
    path
        Destination file; its parent folder is created.
    table
        Which table it is: ``members``, ``recommendations``, ``coverage_by_area``,
        ``coverage_by_branch`` or ``branches``; chooses the header translations, the
        default sheet name and the GIS layer name.
    fmt
        ``xlsx``, ``csv``, ``geojson`` or ``gpkg``; from the extension when ``None``
        (``.json`` counts as GeoJSON).
    language
        ``zh`` (Chinese headers and values, the default) or ``en`` (canonical names).
    sheet_name
        XLSX sheet name; a Chinese name of the table by default (the table name in English).
    branch_limit_min
        The run's own-branch search cut-off, minutes: in ``zh`` spreadsheets a member beyond it
        reads ``> 120`` in the walk-to-branch column (GIS attributes stay numeric).
    personal
        Members table only: write 身份证号 and phone numbers unmasked. By default they are
        masked (:func:`geo_planner.privacy.mask_personal`); a caller that sets this records it
        (:func:`geo_planner.privacy.personal_export_requested`).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        If the format, table or language is unknown.
    InputError
        If a GIS format is asked for a table without coordinates.
    """
    check_table(table)
    if table == "members" and not personal:
        from ..privacy import mask_personal

        df = mask_personal(df)
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}; use one of {', '.join(LANGUAGES)}")
    path = Path(path)
    kind = _format_of(path, fmt)
    if kind in ("geojson", "gpkg"):
        gdf = _geo_frame(df, table, language, branch_limit_min)
        driver = "GeoJSON" if kind == "geojson" else "GPKG"

        def write_geo(p: Path) -> None:
            gdf.to_file(p, driver=driver, layer=table, engine="pyogrio")

        return atomic_write(path, write_geo)
    frame = translate_frame(df, table, language, branch_limit_min=branch_limit_min)
    if kind == "csv":
        safe = _csv_safe(frame)
        return atomic_write(path, lambda p: safe.to_csv(p, index=False, encoding="utf-8-sig"))
    sheet = sheet_name or (SHEET_NAMES[table] if language == "zh" else table)
    return atomic_write(path, lambda p: write_xlsx(frame, p, sheet))
