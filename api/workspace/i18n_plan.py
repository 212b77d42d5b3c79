"""Texts of the planner's what-if panel, the comparison page and the home-visits page (zh default, en).

Kept apart from :mod:`api.workspace.i18n` so those pages can grow without touching the shared table;
:func:`api.workspace.i18n.texts` merges them in.
"""

from __future__ import annotations

from typing import Any, Final

PLAN_TEXT: Final[dict[str, dict[str, Any]]] = {
    "zh": {
        "wi_title": "假设分析（驿站调整）", "wi_edit": "开始调整驿站", "wi_stop": "结束调整",
        "wi_hint": "调整模式下：点击地图空白处新增驿站；拖动驿站改变位置；单击已有驿站将其关闭（再次单击恢复）。",
        "wi_undo": "撤销", "wi_reset": "全部撤销", "wi_save": "另存为方案并运行", "wi_saving": "正在保存…",
        "wi_saved": "已创建新运行", "wi_before": "调整前", "wi_after": "调整后", "wi_edits": "调整",
        "wi_added": "新增", "wi_closed": "关闭", "wi_moved": "移动", "wi_none": "尚未调整。",
        "wi_coverage": "驿站覆盖率", "wi_weighted": "加权覆盖率", "wi_covered": "覆盖人数",
        "wi_considered": "参与计算人数", "wi_newly_covered": "新增覆盖", "wi_newly_uncovered": "失去覆盖",
        "wi_gini": "基尼系数", "wi_p90": "90%成员步行不超过（分钟）", "wi_elapsed": "计算用时（毫秒）",
        "wi_change": "变化", "wi_new_station": "新驿站", "wi_admin_only": "保存数据集需要管理员权限。",
        "wi_area_members": "成员", "wi_threshold": "步行阈值（分钟）", "wi_area_covered": "覆盖",
        "cmp_title": "两次运行对比", "cmp_pick": "对比", "cmp_go": "对比所选两次运行", "cmp_pick_two": "请勾选两次运行。",
        "cmp_earlier": "较早运行", "cmp_later": "较新运行", "cmp_new": "新增成员", "cmp_gone": "减少成员",
        "cmp_moved": "搬家（超过100米）", "cmp_branch_changed": "转换支部", "cmp_unchanged": "未变化",
        "cmp_before": "之前", "cmp_after": "之后", "cmp_by_area": "各片区覆盖变化",
        "cmp_worklist": "工作清单（搬出驿站步行圈或离开支部的成员）", "cmp_xlsx": "下载对比表（XLSX）",
        "cmp_out": "搬出步行圈", "cmp_into": "搬入步行圈", "cmp_matched_by": "匹配方式",
        "vis_title": "上门走访计划", "vis_nav": "走访计划", "vis_offices": "出发地点（每行：名称,经度,纬度）",
        "vis_cars": "车辆数", "vis_days": "天数", "vis_who": "走访对象", "vis_duration": "每户停留（分钟）",
        "vis_age": "年龄不低于", "vis_plan": "生成走访计划", "vis_planning": "正在规划…",
        "vis_days_list": "走访日程", "vis_visitor": "走访人员", "vis_day": "第几天", "vis_stops": "走访户数",
        "vis_drive": "驾车（分钟）", "vis_order": "序号", "vis_arrive": "预计到达", "vis_leave": "离开",
        "vis_member": "成员", "vis_office": "出发地", "vis_unvisited": "未能安排", "vis_summary": "汇总",
        "vis_planned": "计划走访", "vis_total_drive": "总驾车时间（分钟）", "vis_status": "求解状态",
        "vis_show": "在地图上显示", "vis_who_all": "全部成员", "vis_who_lixiu": "离休干部",
        "vis_who_age": "年龄达到", "vis_who_alone": "独居", "vis_who_uncovered": "未被驿站覆盖",
        "vis_who_dispersed": "居住分散",
    },
    "en": {
        "wi_title": "What if (station edits)", "wi_edit": "Edit stations", "wi_stop": "Stop editing",
        "wi_hint": "While editing: click the map to add a station; drag a station to move it; click a station of "
                   "the run to switch it off (again to switch it on).",
        "wi_undo": "Undo", "wi_reset": "Undo all", "wi_save": "Save as scenario and run", "wi_saving": "Saving…",
        "wi_saved": "New run started", "wi_before": "Before", "wi_after": "After", "wi_edits": "Edits",
        "wi_added": "added", "wi_closed": "closed", "wi_moved": "moved", "wi_none": "No edits yet.",
        "wi_coverage": "Station coverage", "wi_weighted": "Weighted coverage", "wi_covered": "Covered",
        "wi_considered": "Members considered", "wi_newly_covered": "Newly covered", "wi_newly_uncovered": "Newly uncovered",
        "wi_gini": "Gini", "wi_p90": "90% of members walk at most (min)", "wi_elapsed": "Computed in (ms)",
        "wi_change": "Change", "wi_new_station": "New station", "wi_admin_only": "Saving a dataset needs an administrator.",
        "wi_area_members": "Members", "wi_threshold": "Walk threshold (min)", "wi_area_covered": "Covered",
        "cmp_title": "Compare two runs", "cmp_pick": "Compare", "cmp_go": "Compare the two chosen runs",
        "cmp_pick_two": "Tick two runs.", "cmp_earlier": "Earlier run", "cmp_later": "Later run",
        "cmp_new": "New members", "cmp_gone": "Gone", "cmp_moved": "Moved (over 100 m)",
        "cmp_branch_changed": "Branch changed", "cmp_unchanged": "Unchanged", "cmp_before": "Before",
        "cmp_after": "After", "cmp_by_area": "Coverage by area",
        "cmp_worklist": "Work list (members who moved out of the station circle or away from their branch)",
        "cmp_xlsx": "Download the comparison (XLSX)", "cmp_out": "Moved out of the circle",
        "cmp_into": "Moved into the circle", "cmp_matched_by": "Matched by",
        "vis_title": "Home visits", "vis_nav": "Home visits", "vis_offices": "Offices (one a line: name,lon,lat)",
        "vis_cars": "Cars", "vis_days": "Days", "vis_who": "Who", "vis_duration": "Minutes per visit",
        "vis_age": "Aged at least", "vis_plan": "Plan the visits", "vis_planning": "Planning…",
        "vis_days_list": "Visitor-days", "vis_visitor": "Visitor", "vis_day": "Day", "vis_stops": "Visits",
        "vis_drive": "Drive (min)", "vis_order": "#", "vis_arrive": "Arrive", "vis_leave": "Leave",
        "vis_member": "Member", "vis_office": "Office", "vis_unvisited": "Not planned", "vis_summary": "Summary",
        "vis_planned": "Visits planned", "vis_total_drive": "Drive time in total (min)", "vis_status": "Solver status",
        "vis_show": "Show on the map", "vis_who_all": "Everyone", "vis_who_lixiu": "离休 (retired before 1949 service)",
        "vis_who_age": "Aged", "vis_who_alone": "Living alone", "vis_who_uncovered": "Not covered by a station",
        "vis_who_dispersed": "Dispersed",
    },
}
