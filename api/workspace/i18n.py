"""The workspace's page texts in Chinese (default) and English: one table for templates and scripts.

Labels of coded values (recommendation kinds, dispersion reasons, statuses) come from
:mod:`geo_planner.vocab`, not from here, so the pages say what the exports and the report say.
"""

from __future__ import annotations

from typing import Any, Final

from geo_planner.vocab import KIND_LABELS, REASON_LABELS, VALUE_LABELS, Language

from .i18n_plan import PLAN_TEXT
from .i18n_upload import REVIEW_TEXT, UPLOAD_TEXT

TEXT: Final[dict[str, dict[str, Any]]] = {
    "zh": {
        "app": "离退休干部服务覆盖规划",
        "nav_home": "工作台", "nav_upload": "上传数据", "nav_docs": "接口文档", "logout": "退出",
        "lang_other": "English", "lang_other_code": "en",
        "login_title": "登录", "username": "用户名", "password": "密码", "login": "登录",
        "login_failed": "用户名或密码不正确。", "login_hint": "请使用管理员分配的账号登录。",
        "runs": "运行记录", "run_name": "名称", "status": "状态", "stage": "阶段", "progress": "进度",
        "created": "创建时间", "members": "成员", "covered_station": "驿站覆盖", "covered_branch": "支部覆盖",
        "covered_hospital": "医院覆盖", "dispersed": "居住分散", "open": "查看", "cancel": "取消",
        "no_runs": "还没有运行记录。", "new_run": "新建运行", "scenario_name": "方案名称",
        "inputs": "输入数据", "osm": "路网数据（OSM）", "seed": "随机种子", "seed_explain": "抽样与启发式算法的种子，相同种子结果相同。",
        "start_run": "开始运行", "defaults": "默认值", "optional": "可留空", "invalid": "请更正以下问题：",
        "none_option": "（无）", "planner_only": "需要规划人员权限。", "hospitals_optional": "可不选",
        "st_queued": "排队中", "st_running": "运行中", "st_done": "已完成", "st_failed": "失败", "st_cancelled": "已取消",
        "headline": "主要指标", "map": "地图", "filters": "筛选", "all": "全部", "branch": "支部", "township": "街道(乡镇)",
        "community": "社区(村)", "reason": "分散原因", "precision": "定位精度", "shown": "显示成员",
        "areas": "片区覆盖", "branches": "支部", "dispersed_members": "分散成员", "recommendations": "建议",
        "downloads": "下载", "report": "规划报告（HTML）", "report_pdf": "规划报告（PDF）",
        "kind": "类型", "name": "名称", "rationale": "理由", "n_members": "涉及人数", "before_after": "步行时间（前→后，分钟）",
        "level": "层级", "area": "片区", "share_station": "驿站覆盖率", "share_branch": "支部覆盖率",
        "share_hospital": "医院覆盖率", "suppressed": "人数少于5，不显示", "member": "成员", "details": "详情",
        "click_member": "点击地图上的成员查看详情。", "viewer_note": "您的账号只能查看汇总数据：成员按网格计数，少于5人的网格不显示。",
        "stations": "驿站", "hospitals": "定点医院", "roads": "道路", "grid": "网格人数", "new_sites": "新建驿站",
        "legend_covered": "已覆盖（驿站）", "legend_uncovered": "未覆盖", "legend_dispersed": "居住分散",
        "field": "字段", "value": "值", "reason_col": "原因", "row": "行", "file": "文件", "action": "处理",
        "upload_title": "上传四张表", "drop_here": "把成员、支部、驿站、医院四个文件（XLSX/CSV/GeoJSON/GPKG）拖到这里，或点击选择。",
        "layer": "图层", "sheet": "工作表", "upload": "上传", "uploaded": "已上传", "read": "读取行数", "accepted": "接受",
        "rejected": "拒收", "warnings": "警告", "import_report": "导入报告", "download_problems": "下载问题行（XLSX）",
        "admin_needed": "上传需要管理员权限。", "column_map": "表头对应", "crs": "坐标系",
        "members_layer": "成员", "branches_layer": "支部", "stations_layer": "驿站", "hospitals_layer": "医院",
        "minutes": "分钟", "of": "/", "error": "出错了", "loading": "加载中…", "zoom_to": "定位",
        "unplaced": "未定位成员（不在地图上）", "review": "定位复核",
        "review_hint": "地址只定位到街道(乡镇)或区县、或未能定位的成员，及其匹配结果；请核对地址后重新上传。",
        "match": "匹配到", "score": "得分", "more_rows": "其余行见下载文件：",
        "exports": {"members": "成员", "recommendations": "建议", "coverage_by_area": "片区覆盖",
                    "coverage_by_branch": "支部覆盖", "branches": "支部", "tradeoff": "权衡曲线",
                    "sensitivity": "敏感性分析", "phased_plan": "分期建设计划"},
    },
    "en": {
        "app": "Retired-cadre service coverage planner",
        "nav_home": "Workspace", "nav_upload": "Upload data", "nav_docs": "API docs", "logout": "Sign out",
        "lang_other": "中文", "lang_other_code": "zh",
        "login_title": "Sign in", "username": "Username", "password": "Password", "login": "Sign in",
        "login_failed": "Wrong username or password.", "login_hint": "Use the account your administrator gave you.",
        "runs": "Runs", "run_name": "Name", "status": "Status", "stage": "Stage", "progress": "Progress",
        "created": "Created", "members": "Members", "covered_station": "Station coverage",
        "covered_branch": "Branch coverage", "covered_hospital": "Hospital coverage", "dispersed": "Dispersed",
        "open": "Open", "cancel": "Cancel", "no_runs": "No runs yet.", "new_run": "New run",
        "scenario_name": "Scenario name", "inputs": "Input tables", "osm": "Road data (OSM)", "seed": "Seed",
        "seed_explain": "Seed of the draws and heuristics: the same seed gives the same result.",
        "start_run": "Start the run", "defaults": "Default", "optional": "may be empty",
        "invalid": "Please correct:", "none_option": "(none)", "planner_only": "Needs the planner role.",
        "hospitals_optional": "optional",
        "st_queued": "queued", "st_running": "running", "st_done": "done", "st_failed": "failed",
        "st_cancelled": "cancelled",
        "headline": "Headline figures", "map": "Map", "filters": "Filters", "all": "All", "branch": "Branch",
        "township": "Township", "community": "Community", "reason": "Dispersion reason", "precision": "Precision",
        "shown": "Members shown", "areas": "Areas", "branches": "Branches", "dispersed_members": "Dispersed members",
        "recommendations": "Recommendations", "downloads": "Downloads", "report": "Planner report (HTML)",
        "report_pdf": "Planner report (PDF)", "kind": "Kind", "name": "Name", "rationale": "Rationale",
        "n_members": "Members concerned", "before_after": "Walk before → after (min)", "level": "Level",
        "area": "Area", "share_station": "Station coverage", "share_branch": "Branch coverage",
        "share_hospital": "Hospital coverage", "suppressed": "fewer than 5, not shown", "member": "Member",
        "details": "Details", "click_member": "Click a member on the map to see the details.",
        "viewer_note": "Your account sees aggregates only: members are counted on a grid; cells with fewer "
                       "than 5 are not shown.",
        "stations": "Stations", "hospitals": "Hospitals", "roads": "Roads", "grid": "Members per cell",
        "new_sites": "New stations", "legend_covered": "Covered (station)", "legend_uncovered": "Not covered",
        "legend_dispersed": "Dispersed", "field": "Field", "value": "Value", "reason_col": "Reason", "row": "Row",
        "file": "File", "action": "Action", "upload_title": "Upload the four tables",
        "drop_here": "Drop the members, branches, stations and hospitals files (XLSX/CSV/GeoJSON/GPKG) here, "
                     "or click to choose.",
        "layer": "Layer", "sheet": "Sheet", "upload": "Upload", "uploaded": "Uploaded", "read": "Rows read",
        "accepted": "Accepted", "rejected": "Rejected", "warnings": "Warnings", "import_report": "Import report",
        "download_problems": "Download the problem rows (XLSX)", "admin_needed": "Uploading needs the admin role.",
        "column_map": "Headers", "crs": "Coordinates",
        "members_layer": "Members", "branches_layer": "Branches", "stations_layer": "Stations",
        "hospitals_layer": "Hospitals", "minutes": "min", "of": "/", "error": "Something went wrong",
        "loading": "Loading…", "zoom_to": "Zoom to", "unplaced": "Members without a point (not on the map)",
        "review": "Location review",
        "review_hint": "Members placed only to a township or county, or not at all, with what their address matched; "
                       "correct the addresses and upload again.",
        "match": "Matched", "score": "Score", "more_rows": "More rows in the downloads:",
        "exports": {"members": "Members", "recommendations": "Recommendations", "coverage_by_area": "Coverage by area",
                    "coverage_by_branch": "Coverage by branch", "branches": "Branches", "tradeoff": "Trade-off curve",
                    "sensitivity": "Sensitivity", "phased_plan": "Phased plan"},
    },
}


#: The admin page's texts (users and the audit log) and the review list's manual placement.
ADMIN_TEXT: Final[dict[str, dict[str, Any]]] = {
    "zh": {
        "nav_admin": "管理", "admin_title": "用户与审计", "users": "用户", "display_name": "显示名称", "role": "角色",
        "disabled": "已停用", "active": "启用中", "add_user": "添加用户", "save": "保存", "disable": "停用",
        "enable": "启用", "reset_password": "重置密码", "new_password": "新密码（至少10位）",
        "password_set": "密码已重置，该用户需重新登录。", "user_added": "已添加用户。", "audit_log": "审计日志",
        "audit_note": "记录谁在何时查看或导出了成员个人信息（不含个人信息本身）。", "download_csv": "下载审计日志（CSV）",
        "time": "时间", "actor": "操作人", "actor_kind": "类型", "run": "运行", "what": "内容", "n_people": "涉及人数",
        "detail": "说明", "client": "来源地址", "role_viewer": "查看", "role_planner": "规划", "role_admin": "管理员",
        "state": "状态", "actions": "操作",
        "place_on_map": "在地图上标注", "placing": "请在地图上点击该成员的住址位置：", "placed": "已人工标注，以后的运行将使用此位置",
    },
    "en": {
        "nav_admin": "Admin", "admin_title": "Users and audit", "users": "Users", "display_name": "Display name",
        "role": "Role", "disabled": "Disabled", "active": "Active", "add_user": "Add user", "save": "Save",
        "disable": "Disable", "enable": "Enable", "reset_password": "Reset password",
        "new_password": "New password (at least 10 characters)",
        "password_set": "Password reset; the user must sign in again.", "user_added": "User added.",
        "audit_log": "Audit log", "audit_note": "Who viewed or exported members' personal data, and when "
        "(the log holds no personal data itself).", "download_csv": "Download the audit log (CSV)",
        "time": "Time", "actor": "User", "actor_kind": "Kind", "run": "Run", "what": "What", "n_people": "People",
        "detail": "Detail", "client": "Client", "role_viewer": "viewer", "role_planner": "planner",
        "role_admin": "admin", "state": "State", "actions": "Actions",
        "place_on_map": "Place on the map", "placing": "Click the map where this member lives:",
        "placed": "placed by hand; later runs use this point",
    },
}


def texts(lang: Language) -> dict[str, Any]:
    """Every text a page and its script need in ``lang``, with the code labels of :mod:`geo_planner.vocab`."""
    base = {**TEXT[lang], **PLAN_TEXT[lang], **ADMIN_TEXT[lang], **UPLOAD_TEXT[lang], **REVIEW_TEXT[lang]}
    return {
        **base,
        "kinds": dict(KIND_LABELS[lang]),
        "reasons": dict(REASON_LABELS[lang]),
        "values": {k: dict(v) for k, v in VALUE_LABELS.items()} if lang == "zh" else {},
    }
