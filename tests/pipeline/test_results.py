"""The library/app seam: reading a finished run back, role policy in one module, package data lookup."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from ..support.paths import ROOT


def test_flags_parsed_once_from_csv_text(tmp_path: Path) -> None:
    from geo_planner.results import parse_flags

    path = tmp_path / "members.csv"
    pd.DataFrame({"id": ["a", "b", "c", "d"], "dispersed": [True, None, False, True],
                  "flagged": [1, None, 0, 1]}).to_csv(path, index=False)
    df = pd.read_csv(path)  # blanks make both columns text/float
    assert not pd.api.types.is_bool_dtype(df["dispersed"])
    out = parse_flags(df)
    assert out["dispersed"].tolist()[0] is True and out["dispersed"].isna().tolist() == [False, True, False, False]
    assert out["dispersed"].fillna(False).astype(bool).tolist() == [True, False, False, True]
    assert out["flagged"].fillna(False).astype(bool).tolist() == [True, False, False, True]


def test_role_policy_lives_in_privacy() -> None:
    from geo_planner.privacy import (
        VIEWER_RUN_ERROR,
        count_for_role,
        exportable_tables,
        member_rows_visible,
        run_counts_for_role,
        run_error_for_role,
    )

    counts = {"members": 3, "branches": 12, "siting": {"p_median": {"weight": 2}},
              "geocode_precision": {"community": 4, "street": 40}}
    assert run_counts_for_role(counts, "viewer") == {"members": None, "branches": 12,
                                                      "geocode_precision": {"community": None, "street": 40}}
    assert run_counts_for_role(counts, "planner") == counts
    assert run_error_for_role("row 7 of members.csv: …", "viewer") == VIEWER_RUN_ERROR
    assert run_error_for_role("row 7", "admin") == "row 7"
    assert "members" not in exportable_tables("viewer") and "members" in exportable_tables("planner")
    assert not member_rows_visible("members", "viewer") and member_rows_visible("branches", "viewer")
    assert count_for_role("members", "viewer")(3) is None and count_for_role("members", "planner")(3) == 3
    with pytest.raises(ValueError, match="unknown role"):
        exportable_tables("guest")  # type: ignore[arg-type]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add("." * node.level + (node.module or ""))
    return names


def test_library_never_imports_the_web_app() -> None:
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "geo_planner").rglob("*.py")
                 if any(n == "api" or n.startswith("api.") for n in _imports(p))]
    assert offenders == []


def test_no_router_imports_another() -> None:
    routers = ROOT / "api" / "routers"
    names = {p.stem for p in routers.glob("*.py")}
    for path in routers.glob("*.py"):
        bad = {n for n in _imports(path) if n.startswith(".") and not n.startswith("..")
               and n.lstrip(".").split(".")[0] in names}
        assert not bad, f"{path.name} imports router(s) {bad}"


def test_bundled_data_found_without_the_source_location(tmp_path: Path) -> None:
    from geo_planner import bundled

    source = Path(bundled.__file__).read_text(encoding="utf-8")
    assert "__file__" not in source  # package data or the install record, never ../data
    cli = (ROOT / "geo_planner" / "cli.py").read_text(encoding="utf-8")
    assert "__file__" not in cli
    env = {**os.environ, bundled.ENV_VAR: str(tmp_path), "PYTHONPATH": str(ROOT)}
    code = "from geo_planner.bundled import data_dir; print(data_dir())"
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True,
                         check=True, timeout=60)
    assert Path(out.stdout.strip()) == tmp_path
    env.pop(bundled.ENV_VAR)
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True,
                         check=True, timeout=60)
    assert (Path(out.stdout.strip()) / "osm").is_dir()  # found from elsewhere than the checkout's cwd


def test_serve_is_the_apps_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    import runpy

    # ``python -m geo_planner serve --help`` and ``python -m api --help``: the two modules run as __main__ here
    # (a fresh interpreter is only needed below, where what gets imported is the point)
    for module, argv in (("geo_planner", ["serve", "--help"]), ("api", ["--help"])):
        monkeypatch.setattr(sys, "argv", [module, *argv])
        with pytest.raises(SystemExit) as done:
            runpy.run_module(module, run_name="__main__", alter_sys=False)
        out = capsys.readouterr()
        assert done.value.code == 0 and "--demo" in out.out and "--data-dir" in out.out, (module, out.err)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    code = "import sys, geo_planner.cli, geo_planner.pipeline; print(any(m.split('.')[0] == 'api' for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True,
                         timeout=120, check=True)
    assert out.stdout.strip() == "False"
