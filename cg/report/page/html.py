"""The report page: executed notebooks joined into one ``report.html`` that reads like a
report, its summary of findings first, and the findings CSVs joined into ``findings.csv``."""

from __future__ import annotations

import html as html_lib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import nbformat
from nbconvert import HTMLExporter

from cg.files import atomic_write_text
from cg.report.findings import rules as R
from cg.report.findings import stats as S
from cg.report.findings.table import decide_families, read_csv, write_csv
from cg.runtime import describe_machine

__all__ = ["build_html", "collect_findings", "summary_markdown"]

_WIDGET = "application/vnd.jupyter.widget-view+json"


def build_html(
    executed: Sequence[str | Path],
    path: str | Path,
    *,
    title: str,
    intro: str = "",
    summary: str = "",
    run_logs: Mapping[str, str] | None = None,
) -> Path:
    """Join executed notebooks into one HTML page that reads like a report: the title, the
    ``intro`` and ``summary`` (markdown) first, then each notebook's figures and tables with
    code hidden and images embedded; the cells tagged ``report-appendix`` (run settings, long
    metric tables) and every notebook's printed output move to an appendix, after the training
    logs of its runs (``run_logs``, by notebook name: what the grid's workers wrote),
    folded; parameters cells, stderr and widgets (progress bars) are left out."""

    combined = nbformat.v4.new_notebook()
    combined.cells.append(nbformat.v4.new_markdown_cell(f"# {title}\n\n{intro}".strip()))
    if summary:
        combined.cells.append(nbformat.v4.new_markdown_cell(summary))
    appendix: list = []
    logs: list[tuple[str, str]] = []
    for nb_path in executed:
        nb = nbformat.read(str(nb_path), as_version=4)
        combined.metadata = combined.metadata or nb.metadata
        printed: list[str] = []
        for cell in nb.cells:
            tags = set(cell.get("metadata", {}).get("tags", []))
            if tags & {"parameters", "injected-parameters", "report-skip"}:
                continue
            if cell.cell_type == "code":
                kept = []
                for o in cell.outputs:
                    if o.output_type == "stream":
                        if o.get("name") == "stdout":
                            printed.append(o.get("text", ""))
                        continue
                    if _WIDGET in o.get("data", {}):  # a progress bar's widget and its text
                        continue
                    kept.append(o)
                cell.outputs = kept
                if not cell.outputs:
                    continue
            (appendix if "report-appendix" in tags else combined.cells).append(cell)
        text = (run_logs or {}).get(Path(nb_path).stem, "") + "".join(printed)
        if text.strip():
            logs.append((Path(nb_path).stem, text))
    if appendix or logs:
        combined.cells.append(
            nbformat.v4.new_markdown_cell(
                "## Appendix\nRun settings, final metrics and training logs of every notebook."
            )
        )
        combined.cells.extend(appendix)
        for name, text in logs:
            combined.cells.append(
                nbformat.v4.new_markdown_cell(
                    f"<details><summary>Training log: {name}</summary>\n\n"
                    f"<pre>{html_lib.escape(text)}</pre>\n\n</details>"
                )
            )
    for i, cell in enumerate(combined.cells):
        cell["id"] = f"cell-{i:04d}"  # ids from different notebooks may collide
    exporter = HTMLExporter(
        exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True, embed_images=True
    )
    body, _ = exporter.from_notebook_node(combined)
    path = Path(path)
    atomic_write_text(path, body)
    return path


def collect_findings(results_dir: str | Path, names: Sequence[str], out: str | Path) -> list:
    """Join the findings CSVs the notebooks wrote (``results_dir/<dataset>.csv``, in report
        order) into ``out`` (``reports/findings.csv``), each family of checks decided with Holm's
    correction (:func:`cg.report.findings.table.decide_families`); returns the rows."""

    rows: list = []
    for name in names:
        path = Path(results_dir) / f"{name}.csv"
        if path.is_file():
            rows += read_csv(path)
    rows = decide_families(rows)
    write_csv(rows, out)
    return rows


def summary_markdown(rows: Sequence[Mapping[str, Any]], seconds: float) -> str:
    """The page's first section: every finding with its family-wise verdict, its own verdict,
    p, the interval and the numbers; what the family-wise rule guarantees; the rules' version;
    and how long the run took on what machine."""

    def counted(part: Sequence[Mapping[str, Any]]) -> str:
        n = {v: sum(r["verdict"] == v for r in part) for v in (S.HOLDS, S.FAILS, S.UNDECIDED)}
        return f"{n[S.HOLDS]} hold, {n[S.FAILS]} do not hold, {n[S.UNDECIDED]} undecided"

    core = [r for r in rows if r["id"] in R.REPORT_CHECKS]
    further = [r for r in rows if r["id"] not in R.REPORT_CHECKS]
    more = f"; {len(further)} further checks: {counted(further)}" if further else ""
    seeds = max((int(r.get("seeds") or 1) for r in rows), default=1)
    versions = sorted({str(r.get("rules") or "?") for r in rows})
    lines = [
        "## Summary",
        "",
        f"Built in {seconds / 60:.1f} minutes on {describe_machine()}. "
        f"{len(core)} checks of the report's findings (R9): {counted(core)}{more}. Each is "
        f"decided over {seeds} training seeds: its statistic computed per seed (on the "
        "validation images), then tested against its line with Student's t over the seeds "
        "(a ratio as its log). Rules version "
        f"{', '.join(versions)} (``cg.report.findings.rules``; ``docs/findings.md`` records "
        "every change).",
        "",
        f"**Family-wise:** the report's checks are one family and the further checks another, "
        f"each decided with Holm's correction at {R.FAMILY_ALPHA:.0%}, so that the chance of "
        "any wrong decisive verdict (holds or does not hold) in a family is at most "
        f"{R.FAMILY_ALPHA:.0%}; *alone* is each check's own verdict at 2.5% a side.",
        "",
        "| finding | dataset | claim | verdict | alone | p | statistic [95% interval] "
        "| per seed | numbers |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        est = S.Estimate(float(r["value"]), float(r["low"]), float(r["high"]), int(r["n"]))
        per_seed = ", ".join(
            f"{float(v):.3g}" for v in str(r.get("per_seed") or r["value"]).split(";")
        )
        p = float(r["p"]) if r.get("p") not in (None, "") else float("nan")
        cells = [
            r["id"],
            r["dataset"],
            r["claim"],
            f"**{r['verdict']}**",
            r.get("verdict_raw", ""),
            "nan" if p != p else f"{p:.2g}",
            f"{r['statistic']}: {est}",
            per_seed,
            r["numbers"],
        ]
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)
