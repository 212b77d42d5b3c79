"""Which headers mean which column, per layer: the one place to add an input column.

A planner's table may call a member's id 编号, 人员编号 or 工号; :data:`HEADER_ALIASES` lists
the accepted headers of every canonical column, per layer (``支部名称`` is a member's
``branch`` but a branch's ``name``), and :data:`CANONICAL_ORDER` the columns of each layer's
output frame.  :func:`match_columns` maps a file's headers with them.

To accept a new input column, add its headers to ``_LAYER_ALIASES`` (or to
``_COMMON_ALIASES`` for every layer) and its name to :data:`CANONICAL_ORDER`: it is then read,
kept as text in the layer's frame and exported.  Only a column whose values must be parsed
or checked (a number, a date, a yes/no) also needs a few lines in :mod:`geo_planner.io.fields`.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Final

from ..errors import InputError, Problem
from ..vocab import LAYER_KINDS, LayerKind

__all__ = [
    "CANONICAL_ORDER",
    "HEADER_ALIASES",
    "LONLAT_KEYS",
    "IGNORE",
    "accepted_headers",
    "field_labels",
    "header_keys",
    "header_score",
    "layer_fields",
    "match_columns",
    "propose_columns",
]

logger = logging.getLogger(__name__)

_COMMON_ALIASES: Final[dict[str, tuple[str, ...]]] = {
    "address": (
        "住址", "地址", "家庭住址", "现住址", "居住地址", "家庭地址", "现居住地址", "详细地址", "address"
    ),
    "community": ("所在社区", "社区", "村", "社区(村)", "社区/村", "所属社区", "居委会", "community"),
    "township": (
        "所在街道",
        "街道",
        "乡镇",
        "所在街道/乡镇",
        "街道(乡镇)",
        "乡镇/街道",
        "乡镇(街道)",
        "所属街道",
        "township",
    ),
    "lon": ("经度", "lon", "lng", "long", "longitude", "x"),
    "lat": ("纬度", "lat", "latitude", "y"),
    "crs": ("坐标系", "坐标类型", "坐标系统", "crs"),
    "phone": ("电话", "联系电话", "手机", "手机号码", "联系方式", "phone"),
}

_LAYER_ALIASES: Final[dict[str, dict[str, tuple[str, ...]]]] = {
    "members": {
        "id": ("编号", "序号", "ID", "人员编号", "工号", "干部编号", "id"),
        "name": ("姓名", "名字", "name"),
        "status": ("离退休类别", "类别", "离退休", "离退休状态", "status"),
        "branch": (
            "所在党支部",
            "党支部",
            "所属支部",
            "所属党支部",
            "支部",
            "党支部名称",
            "支部名称",
            "支部编号",
            "党支部编号",
            "branch",
            "branch_id",
        ),
        "unit": ("原工作单位", "工作单位", "原单位", "单位", "unit"),
        "age": ("年龄", "age"),
        "birth": ("出生年月", "出生日期", "出生年月日", "birth", "birthday", "birth_date"),
        "is_party_member": ("是否党员", "党员", "政治面貌", "party_member", "is_party_member"),
        "id_number": ("身份证号", "身份证号码", "公民身份号码", "公民身份证号", "身份证", "证件号码", "id_number"),
    },
    "branches": {
        "id": ("编号", "序号", "ID", "支部编号", "党支部编号", "id", "branch_id"),
        "name": ("支部名称", "党支部名称", "党支部", "支部", "名称", "name"),
        "meeting_place": ("活动地点", "会议地点", "活动场所", "组织生活地点", "meeting_place"),
        "unit": ("单位", "所属单位", "unit"),
    },
    "stations": {
        "id": ("编号", "序号", "ID", "驿站编号", "站点编号", "阵地编号", "id"),
        "name": ("驿站名称", "阵地名称", "站点名称", "名称", "name"),
        "kind": ("驿站类型", "阵地类型", "类型", "kind"),
        "capacity": ("容量", "可容纳人数", "容纳人数", "capacity"),
    },
    "hospitals": {
        "id": ("编号", "序号", "ID", "医院编号", "id"),
        "name": ("医院名称", "名称", "name"),
        "level": ("医院等级", "等级", "level"),
        "kind": ("医院类型", "类型", "kind"),
    },
}

#: Accepted headers per layer: ``HEADER_ALIASES[layer][canonical] -> tuple of headers``.
#: Matching ignores case, spaces, full-width forms, brackets and punctuation
#: (``社区（村）`` = ``社区(村)`` = ``社区村``); a bracketed suffix is ignored when the full
#: header is not known (``年龄（岁）`` → ``age``).  Read-only.
HEADER_ALIASES: Final[Mapping[str, Mapping[str, tuple[str, ...]]]] = MappingProxyType(
    {
        kind: MappingProxyType({**_LAYER_ALIASES[kind], **_COMMON_ALIASES})
        for kind in LAYER_KINDS
    }
)

# A weak alias maps only when no other column of the file maps to the same name:
# a roster's 序号 (row counter) gives way to a real 编号/人员编号 column.
_WEAK_ALIASES: Final[frozenset[str]] = frozenset({"序号"})

#: Canonical columns of each layer's output frame, in order (all always present).
CANONICAL_ORDER: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "members": (
            "id",
            "name",
            "status",
            "branch",
            "branch_id",
            "unit",
            "address",
            "community",
            "township",
            "age",
            "birth",
            "is_party_member",
            "phone",
            "id_number",  # kept only when the file has it (personal data: masked in exports)
        ),
        "branches": ("id", "name", "meeting_place", "address", "community", "township", "unit", "phone"),
        "stations": ("id", "name", "kind", "capacity", "address", "community", "township", "phone"),
        "hospitals": ("id", "name", "level", "kind", "address", "community", "township", "phone"),
    }
)

_BRACKETED = re.compile(r"[(\[{<【《〈「『][^)\]}>】》〉」』]*[)\]}>】》〉」』]")
_HEADER_PUNCT = re.compile(r"[\s()\[\]{}<>【】《》〈〉「」『』\"'`/\\|、,，.。·:：;；*＊_\-—~～#＃]+")


def header_keys(header: object) -> tuple[str, str]:
    """Return the two lookup keys of a header: punctuation removed, and bracketed text removed."""
    text = unicodedata.normalize("NFKC", str(header)).casefold()
    return _HEADER_PUNCT.sub("", text), _HEADER_PUNCT.sub("", _BRACKETED.sub("", text))


def _build_lookup() -> Mapping[str, Mapping[str, str]]:
    """Build ``{layer: {normalised header: canonical}}`` and check the alias table is consistent."""
    out: dict[str, Mapping[str, str]] = {}
    for kind, table in HEADER_ALIASES.items():
        lookup: dict[str, str] = {}
        for canonical, aliases in table.items():
            for alias in (*aliases, canonical):
                key = header_keys(alias)[0]
                if lookup.setdefault(key, canonical) != canonical:  # pragma: no cover - table bug
                    raise RuntimeError(f"alias {alias!r} maps to both {lookup[key]!r} and {canonical!r}")
        out[kind] = MappingProxyType(lookup)
    return MappingProxyType(out)


_ALIAS_LOOKUP: Final[Mapping[str, Mapping[str, str]]] = _build_lookup()
_ALL_ALIAS_KEYS: Final[frozenset[str]] = frozenset(k for table in _ALIAS_LOOKUP.values() for k in table)
LONLAT_KEYS: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {c: frozenset(header_keys(a)[0] for a in (*_COMMON_ALIASES[c], c)) for c in ("lon", "lat")}
)
_WEAK_KEYS: Final[frozenset[str]] = frozenset(header_keys(a)[0] for a in _WEAK_ALIASES)


def _lookup_header(header: str, kind: str) -> tuple[str | None, bool]:
    """Canonical name of ``header`` in layer ``kind`` (or ``None``) and whether the alias is weak."""
    lookup = _ALIAS_LOOKUP[kind]
    for key in header_keys(header):
        if key in lookup:
            return lookup[key], key in _WEAK_KEYS
    return None, False


def accepted_headers(kind: str, canonical: str) -> str:
    """The accepted headers of ``canonical`` in layer ``kind``, for messages."""
    return "/".join(HEADER_ALIASES[kind][canonical])



def header_score(cells: Iterable[str]) -> int:
    """Number of cells that are a known header in any layer."""
    return sum(1 for c in cells if c and any(k in _ALL_ALIAS_KEYS for k in header_keys(c)))


#: The value of a column mapping that keeps a header out of every field (kept as an extra column).
IGNORE: Final[str] = "ignore"


def layer_fields(kind: str) -> tuple[str, ...]:
    """The fields a header of layer ``kind`` may be mapped to (a column mapping's valid values, besides
    :data:`IGNORE`)."""
    if kind not in HEADER_ALIASES:
        raise ValueError(f"unknown layer kind {kind!r}; use one of {', '.join(LAYER_KINDS)}")
    return tuple(HEADER_ALIASES[kind])


def field_labels(kind: str) -> dict[str, str]:
    """A Chinese label per field of layer ``kind``: its first accepted header (``name`` of members: 姓名)."""
    return {field: HEADER_ALIASES[kind][field][0] for field in layer_fields(kind)}


def propose_columns(columns: Iterable[str], kind: str) -> dict[str, str | None]:
    """The field each header gets from the alias table, header by header, before any check.

    A weak alias (``序号``) gives way (``None``) to a stronger header of the same field; two strong
    headers of one field both keep it (:func:`match_columns` refuses that).

    Parameters
    ----------
    columns
        The headers as written in the file.
    kind
        Layer the table holds.

    Returns
    -------
    dict
        ``{header: canonical name or None}`` for every header, in the file's order.
    """
    if kind not in _ALIAS_LOOKUP:
        raise ValueError(f"unknown layer kind {kind!r}; use one of {', '.join(LAYER_KINDS)}")
    looked = {col: _lookup_header(col, kind) for col in columns}
    strong = {canonical for canonical, weak in looked.values() if canonical is not None and not weak}
    return {col: (None if weak and canonical in strong else canonical)
            for col, (canonical, weak) in looked.items()}


def _apply_overrides(
    proposed: dict[str, str | None], overrides: Mapping[str, str], kind: str, file: str
) -> dict[str, str | None]:
    """``proposed`` with a planner's corrections applied; every unknown header or field is a problem."""
    fields = layer_fields(kind)
    problems: list[Problem] = []
    out = dict(proposed)
    for header, field in overrides.items():
        if header not in proposed:
            problems.append(Problem(file, None, str(header), f"the column mapping names header '{header}', "
                                    f"which the file does not have (its headers: {', '.join(proposed)})"))
        elif field != IGNORE and field not in fields:
            problems.append(Problem(file, None, str(header), f"the column mapping maps header '{header}' to "
                                    f"unknown field '{field}'; use one of {', '.join(fields)} or '{IGNORE}'"))
        else:
            out[header] = None if field == IGNORE else field
    if problems:
        raise InputError(problems)
    return out


def match_columns(
    columns: Iterable[str],
    kind: LayerKind,
    *,
    file: str = "<table>",
    overrides: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Map a table's headers to canonical column names.

    Parameters
    ----------
    columns
        The headers as written in the file.
    kind
        Layer the table holds; aliases differ per layer (``支部名称`` is a member's
        ``branch`` but a branch's ``name``).
    file
        File name used in error messages.
    overrides
        A planner's corrections of the automatic match, ``{header: field}``, where ``field`` is one
        of :func:`layer_fields` or :data:`IGNORE` (the header then means nothing and is kept as an
        extra column); headers not named keep their automatic field.

    Returns
    -------
    dict
        ``{original header: canonical name}`` for the recognised headers only; the other
        columns are not in it (callers keep them under their original header).

    Raises
    ------
    InputError
        If two columns map to the same canonical name (both are named).  A weak alias
        (``序号``) is left unmapped instead when a stronger column exists.  With ``overrides``
        also for a header the file does not have or a field the layer does not know (each
        naming the file and the header).
    """
    proposed = propose_columns(columns, kind)
    if overrides:
        proposed = _apply_overrides(proposed, overrides, kind, file)
    hits: dict[str, list[str]] = {}
    for col, canonical in proposed.items():
        if canonical is not None:
            hits.setdefault(canonical, []).append(col)
    mapping: dict[str, str] = {}
    problems: list[Problem] = []
    for canonical, chosen in hits.items():
        if len(chosen) > 1:
            names = ", ".join(f"'{c}'" for c in chosen)
            problems.append(
                Problem(
                    file,
                    None,
                    chosen[0],
                    f"columns {names} all mean '{canonical}'; keep one of them, rename the others or map "
                    f"them to '{IGNORE}' in the column mapping",
                )
            )
            continue
        mapping[chosen[0]] = canonical
    if problems:
        raise InputError(problems)
    return mapping
