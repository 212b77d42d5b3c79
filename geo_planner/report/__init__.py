"""The printable planner report: ``report.html`` (and ``report.pdf`` through headless Chromium).

One self-contained HTML page a 老干部局 can print or put on a screen in a meeting of the
organisation department: the situation in numbers (members, coverage by area, dispersed
members by reason), the map as a static picture, the trade-off curve and equity charts, the
recommendations with their rationale and stability, the sensitivity verdict and the phased
plan. Chinese by default, English one click away (both texts are in the page; a button
switches ``<html lang>``), and printable (``@media print``).

**No member data**: the report holds aggregates only — counts per area and per reason,
members drawn as counts on cells of ``privacy.VIEWER_CELL_M`` metres (cells with fewer than
``SMALL_CELL`` members hidden), recommendations with counts and their texts but never member
ids, names or addresses. So the one report is also the viewer version.

Charts (:mod:`.charts`) are PNG pictures embedded as data URIs, so the file opens offline; the
sections are in :mod:`.sections`, the HTML pieces in :mod:`.page`. The PDF is printed by
headless Chromium when it is installed (``chromium --headless --print-to-pdf``); without it the
report is still written and ``run.json`` says why there is no PDF.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..atomic import atomic_write
from . import sections
from .charts import SMALL_CELL, Charts
from .four_near import four_near
from .page import page, tr

if TYPE_CHECKING:
    from ..run_result import RunResult

log = logging.getLogger(__name__)

__all__ = ["SMALL_CELL", "find_chromium", "print_pdf", "render_report", "write_report"]


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome executable, or ``None``."""
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None



def render_report(result: RunResult) -> str:
    """Render the report as one self-contained HTML string (aggregates only; see the module docstring).

    Parameters
    ----------
    result
        A finished run with its decision-support results (``result.decision``).

    Returns
    -------
    str
        HTML with the charts embedded as PNG data URIs.
    """
    ch = Charts()
    parts = [*sections.header(result), *sections.situation(ch, result), *four_near(result)]
    if result.decision is not None:
        parts += [*sections.tradeoff(ch, result), *sections.equity(ch, result)]
    parts += sections.recommendations(result)
    if result.decision is not None:
        parts += [*sections.sensitivity(ch, result), *sections.phased_plan(ch, result)]
    if ch.font is None:
        log.warning("no CJK font on this machine: the report's charts are labelled in English")
        parts.append('<p class="note">' + tr(
            "本机未安装中文字体（如 fonts-noto-cjk），图表标注为英文、分区以编号代替名称。",
            "No CJK font is installed on this machine (e.g. fonts-noto-cjk): chart labels are in English "
            "and areas are numbered instead of named.") + "</p>")
    source = tr("数据来源：OpenStreetMap 路网（© OpenStreetMap contributors, ODbL）；各模型由 HiGHS 求解。",
                "Roads: © OpenStreetMap contributors (ODbL); models solved with HiGHS.")
    parts.append(f'<p class="note">{source}</p>')
    return page(result.scenario.name, result.scenario.map.language, "\n".join(parts))


def print_pdf(
    html_path: Path, pdf_path: Path, *, chromium: str | None = None, timeout_s: float = 120.0
) -> str | None:
    """Print an HTML file to PDF with headless Chromium.

    Returns
    -------
    str or None
        ``None`` on success, else why there is no PDF (Chromium missing, failed, timed out).
    """
    exe = chromium or find_chromium()
    if exe is None:
        return "chromium is not installed; report.pdf not written (report.html prints from any browser)"
    with tempfile.TemporaryDirectory(prefix="gp-report-") as tmp:
        out = Path(tmp) / "report.pdf"
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-extensions", "--no-first-run",
               "--disable-background-networking", "--no-pdf-header-footer", f"--user-data-dir={tmp}/profile",
               f"--print-to-pdf={out}", html_path.resolve().as_uri()]
        try:
            proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout_s,
                                  check=False)
        except subprocess.TimeoutExpired:
            return f"chromium did not print the report within {timeout_s:g} s"
        if not out.is_file() or out.stat().st_size == 0 or out.read_bytes()[:5] != b"%PDF-":
            tail = proc.stderr.decode("utf-8", "replace")[-300:]
            return f"chromium could not print the report (exit {proc.returncode}): {tail}"
        atomic_write(pdf_path, lambda p: shutil.copyfile(out, p))
    return None


def write_report(result: RunResult) -> dict[str, Path]:
    """Write ``report.html`` (and ``report.pdf`` where Chromium is installed) into the run folder.

    Returns
    -------
    dict
        ``{"report_html": path, "report_pdf": path}`` (PDF only when printed); why a PDF is
        missing is logged and put in ``result.counts["report"]``.
    """
    out = result.out_dir
    page = render_report(result)
    path = out / "report.html"
    atomic_write(path, lambda p: p.write_text(page, encoding="utf-8"))
    files = {"report_html": path}
    info: dict[str, Any] = {"html_bytes": len(page.encode("utf-8"))}
    if result.scenario.report.pdf:
        why = print_pdf(path, out / "report.pdf")
        if why is None:
            files["report_pdf"] = out / "report.pdf"
        else:
            log.warning(why)
            info["pdf"] = why
    else:
        info["pdf"] = "disabled ([report] pdf = false)"
    result.counts["report"] = info
    return files

