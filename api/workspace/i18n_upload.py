"""Texts of the upload page's header correction and of the review list's place search and fuzzy branch matches,
in Chinese (default) and English."""

from __future__ import annotations

from typing import Any, Final

UPLOAD_TEXT: Final[dict[str, dict[str, Any]]] = {
    "zh": {
        "columns_title": "表头对应（可更正）", "header": "文件中的表头", "field_auto": "自动识别为",
        "field_set": "对应字段", "ignore": "不使用（作为附加列保留）", "no_field": "未识别",
        "remembered": "已沿用同样表头上次上传时的更正", "columns_hint": "请核对每个表头对应的字段；"
        "更正会随上传保存，以后上传同样表头的文件时自动沿用。", "corrected": "已更正",
    },
    "en": {
        "columns_title": "Headers and fields (correct them here)", "header": "Header in the file",
        "field_auto": "Recognised as", "field_set": "Field", "ignore": "Not used (kept as an extra column)",
        "no_field": "not recognised", "remembered": "The corrections of the last upload with the same headers "
        "are applied", "columns_hint": "Check the field of every header; the corrections are kept with the "
        "upload and applied again to a file with the same headers.", "corrected": "corrected",
    },
}


#: The location review's search of named places, and the list of branches matched by a tolerant name.
REVIEW_TEXT: Final[dict[str, dict[str, Any]]] = {
    "zh": {
        "place_by_name": "按地名标注", "place_search": "输入社区/村、街道、道路或地点名称，为成员选择位置：",
        "search": "查找", "no_places": "没有找到匹配的地名", "precision_of": "精度",
        "pick_place": "用此位置", "levels": {"poi": "地点", "street": "道路", "community": "社区/村",
                                              "township": "街道/乡镇", "county": "区县"},
        "fuzzy_title": "支部名称模糊匹配（请复核）", "fuzzy_hint": "花名册中的支部名称与支部表不完全一致，"
        "已按相似度匹配；请核对，如有误请在花名册中改正后重新上传。", "branch_written": "花名册中的支部",
        "branch_matched": "匹配到的支部", "download_fuzzy": "下载模糊匹配清单（XLSX）", "no_fuzzy": "没有模糊匹配的支部名称。",
    },
    "en": {
        "place_by_name": "Place by name", "place_search": "Type a 社区/村, 街道, road or place name to put the "
        "member on:", "search": "Search", "no_places": "No place of that name", "precision_of": "precision",
        "pick_place": "Use this place", "levels": {"poi": "place", "street": "road", "community": "community/village",
                                                   "township": "township", "county": "county"},
        "fuzzy_title": "Branches matched by a similar name (review them)", "fuzzy_hint": "The roster writes these "
        "branches differently from the branches table; they were matched by similarity. Check them and correct "
        "the roster if a match is wrong.", "branch_written": "Branch in the roster",
        "branch_matched": "Branch matched", "download_fuzzy": "Download the list (XLSX)",
        "no_fuzzy": "No branch was matched by a similar name.",
    },
}
