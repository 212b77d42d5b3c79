"""The report's charts in Chinese on a machine whose matplotlib font cache predates its CJK fonts.

matplotlib lists fonts in a cache built the first time it runs; fonts installed afterwards are
not in it. The test builds a fresh cache (``MPLCONFIGDIR`` in a temporary folder), removes every
CJK entry from it — the stale cache of such a machine — and then, in a new process, renders the
report's area chart from the demo run's real 街道 names: the fonts must be found on disk and
registered directly, every label drawn without a missing glyph.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from geo_planner.report.charts import cjk_font_files

from ..support.paths import ROOT

_BUILD_CACHE = "import matplotlib.font_manager as fm; print(len(fm.fontManager.ttflist))"

_CHILD = r"""
import json, sys, warnings
import pandas as pd
from matplotlib import font_manager
warnings.simplefilter("error")  # "Glyph … missing from font(s)" becomes an error
stale = sorted({f.name for f in font_manager.fontManager.ttflist if "CJK" in f.name or "WenQuanYi" in f.name})
from geo_planner.report.charts import Charts, chart_areas, shown_areas
from geo_planner.report.page import page
by_area = pd.read_csv(sys.argv[1], encoding="utf-8-sig")
ch = Charts()
png = ch.draw(chart_areas, by_area)
# the labels the chart draws are the areas' own names when a CJK font is there
labels = list(shown_areas(by_area)[0]["area"].astype(str)) if ch.font else []
print(json.dumps({"stale_cjk": stale, "font": ch.font, "labels": labels, "png": len(png),
                  "label": ch.label("人数", "members")}, ensure_ascii=False))
"""


def _env(cfg: Path) -> dict[str, str]:
    return {"MPLCONFIGDIR": str(cfg), "PYTHONPATH": str(ROOT), "PATH": os.environ.get("PATH", "/usr/bin"),
            "HOME": str(cfg)}


@pytest.mark.skipif(not cjk_font_files(), reason="no CJK font installed: the English fallback applies")
def test_charts_find_cjk_fonts_despite_a_stale_cache(demo_run, tmp_path):
    _, _, out, _ = demo_run
    cfg = tmp_path / "mpl"
    cfg.mkdir()
    subprocess.run([sys.executable, "-c", _BUILD_CACHE], env=_env(cfg), check=True, capture_output=True)
    (cache,) = cfg.glob("fontlist-*.json")
    data = json.loads(cache.read_text(encoding="utf-8"))
    data["ttflist"] = [f for f in data["ttflist"] if not any(
        k in f["name"] for k in ("CJK", "WenQuanYi", "Source Han", "Droid Sans Fallback", "AR PL"))]
    cache.write_text(json.dumps(data), encoding="utf-8")
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(out / "coverage_by_area.csv")], env=_env(cfg),
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    assert res["stale_cjk"] == []  # the cache really had no CJK font
    assert res["font"] and ("CJK" in res["font"] or "WenQuanYi" in res["font"])
    assert res["label"] == "人数 members"  # Chinese labels, not the English fallback
    by_area = pd.read_csv(out / "coverage_by_area.csv", encoding="utf-8-sig")
    townships = set(by_area.loc[by_area["level"] == "township", "area"].astype(str))
    assert any(name.endswith("街道") for name in res["labels"]) and set(res["labels"]) <= townships
    assert res["png"] > 1000


def test_no_cjk_font_falls_back_to_english_and_says_so(demo_run, monkeypatch):
    from geo_planner.report import charts, render_report

    result, _, _, _ = demo_run
    monkeypatch.setattr(charts, "_cjk_font", lambda: None)  # a machine without any CJK font file
    page = render_report(result)
    assert "No CJK font is installed" in page and "本机未安装中文字体" in page
