"""Seeded roster edits with known answers (the compare and what-if tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .paths import DEMO

SEED = 20261207
PLANTED = {"gone": 6, "new": 7, "moved": 8, "near": 3, "branch": 5, "renumbered": 3}


def plant_roster_changes(accepted: set[str], out: Path) -> tuple[Path, dict[str, list[str]]]:
    """The demo roster with seeded, disjoint planted changes (rows kept clear of 同上 cells)."""
    raw = pd.read_csv(DEMO / "members.csv", encoding="gb18030", dtype=str, keep_default_na=False)
    ditto = raw.apply(lambda r: r.astype(str).str.contains("同上").any(), axis=1).to_numpy()
    safe = ~ditto & ~np.r_[ditto[1:], False] & raw["编号"].isin(accepted).to_numpy()
    has_xy = (raw["经度"] != "") & (raw["纬度"] != "")
    key = raw["姓名"] + "|" + raw["出生年月"]
    unique_key = ~key.duplicated(keep=False) & (raw["出生年月"] != "")
    rng = np.random.default_rng(SEED)
    pool = list(rng.permutation(np.flatnonzero(safe & has_xy.to_numpy() & unique_key.to_numpy())))
    take = {k: [pool.pop() for _ in range(n)] for k, n in PLANTED.items() if k != "new"}
    rows = raw.copy()
    rows.loc[take["moved"], "经度"] = (rows.loc[take["moved"], "经度"].astype(float) + 0.004).map(repr)
    rows.loc[take["near"], "纬度"] = (rows.loc[take["near"], "纬度"].astype(float) + 0.0003).map(repr)
    branches = sorted(set(raw["所在党支部"]) - {""})
    for i in take["branch"]:
        rows.loc[i, "所在党支部"] = next(b for b in branches if b != rows.loc[i, "所在党支部"])
    rows.loc[take["renumbered"], "编号"] = "R" + rows.loc[take["renumbered"], "编号"]
    new = rows.loc[[pool.pop() for _ in range(PLANTED["new"])]].copy()
    new["编号"] = [f"N{k + 1:04d}" for k in range(len(new))]
    new["姓名"] = [f"新成员{k + 1}" for k in range(len(new))]
    at = int(np.flatnonzero(safe)[0]) + 1  # new rows after a row no 同上 follows
    rows = pd.concat([rows.iloc[:at], new, rows.iloc[at:]]).drop(index=take["gone"])
    path = out / "members_next_year.csv"
    rows.to_csv(path, index=False, encoding="gb18030")
    ids = raw["编号"]
    planted = {k: ids[v].tolist() for k, v in take.items()} | {"new": new["编号"].tolist()}
    return path, planted



#: A point on the demo's 贵溪 roads, away from the stations (see data/demo).
ON_ROAD = (117.2171921, 28.2912202)

