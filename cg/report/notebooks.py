"""``cg report``: run every notebook with papermill and assemble one HTML report.

The notebooks (:data:`~cg.report.profiles.NOTEBOOKS`, in the report's order) each have one cell
tagged ``parameters``; a profile (:mod:`cg.report.profiles`) gives their values. Each notebook is
executed into ``reports/<name>.ipynb``; then all of them are joined into one self-contained
``reports/report.html`` (code hidden, images embedded, progress output left out).
``--data-root DIR`` points the dataset notebooks at ``DIR/<dataset>`` (the layout
``cg data download`` writes); ``--data NAME=DIR`` at one folder each.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cg.errors import UserError
from cg.files import atomic_write_text
from cg.report.profiles import NOTEBOOKS, data_roots, load_profile, make_absolute


def check_kernel(name: str = "python3") -> None:
    """Make sure the Jupyter kernel ``name`` runs this Python (the one with cg installed)."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        argv = KernelSpecManager().get_kernel_spec(name).argv
    except NoSuchKernel:
        return  # jupyter_client then starts sys.executable itself
    exe = argv[0] if argv else ""
    if not os.path.isabs(exe) or os.path.abspath(exe) == os.path.abspath(sys.executable):
        return
    in_venv = sys.prefix != sys.base_prefix
    if not in_venv and os.path.exists(exe) and os.path.samefile(exe, sys.executable):
        return
    raise UserError(
        f"the Jupyter kernel {name!r} runs {exe}, not this environment's Python "
        f"({sys.executable}); install it here with `{sys.executable} -m ipykernel install "
        f"--sys-prefix --name {name}` (`make install` does)"
    )


def _kernel_manager_class() -> type:
    """Kernels for the notebook runs over IPC sockets (files in Jupyter's runtime folder), not
    TCP ports: a local run needs no network port, and the kernel then has no reason to print
    its warning about unencrypted TCP into every run's log."""
    from jupyter_client.manager import AsyncKernelManager

    class IpcKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs: Any) -> None:
            kwargs.setdefault("transport", "ipc")
            super().__init__(**kwargs)

    return IpcKernelManager


def _declared(notebook: Path) -> set[str]:
    import papermill as pm

    return set(pm.inspect_notebook(str(notebook)))


def run_notebooks(
    params: Mapping[str, Mapping[str, Any]],
    *,
    notebooks_dir: str | Path = "notebooks",
    out_dir: str | Path = "reports",
    only: Sequence[str] = (),
    progress: bool = True,
) -> dict[str, float]:
    """Execute each notebook with its parameters into ``out_dir``; ``{name: seconds}``.

    Each notebook receives only the parameters its ``parameters`` cell declares. A failing
    notebook stops the run with a UserError naming it, its failing cell and the error.
    """
    import papermill as pm

    src_dir, out = Path(notebooks_dir), Path(out_dir)
    names = [n for n in NOTEBOOKS if not only or n in only]
    for n in only:
        if n not in NOTEBOOKS:
            raise UserError(f"unknown notebook {n!r}; known: {', '.join(NOTEBOOKS)}")
    missing = [n for n in names if not (src_dir / f"{n}.ipynb").is_file()]
    if missing:
        raise UserError(
            f"{src_dir} has no {', '.join(m + '.ipynb' for m in missing)}; run "
            "`cg report` from the repository root or pass --notebooks DIR"
        )
    check_kernel()
    out.mkdir(parents=True, exist_ok=True)
    times: dict[str, float] = {}
    for i, name in enumerate(names, start=1):
        src = src_dir / f"{name}.ipynb"
        given = dict(params.get(name, {}))
        used = {k: v for k, v in given.items() if k in _declared(src)}
        print(f"[{i}/{len(names)}] {name}.ipynb -> {out / (name + '.ipynb')}", flush=True)
        start = time.perf_counter()
        try:
            pm.execute_notebook(
                str(src),
                str(out / f"{name}.ipynb"),
                parameters=used,
                kernel_name="python3",
                progress_bar=progress,
                cwd=str(src_dir.resolve()),
                kernel_manager_class=_kernel_manager_class(),
            )
        except pm.PapermillExecutionError as e:
            last = (e.evalue or "").strip().splitlines()
            raise UserError(
                f"notebook {src} failed in cell {e.exec_count}: {e.ename}: "
                f"{last[-1] if last else ''} (executed copy: {out / (name + '.ipynb')})"
            ) from None
        times[name] = time.perf_counter() - start
        print(f"    {name}: {times[name]:.1f} s", flush=True)
    return times


def store_checked_outputs(notebook: str | Path) -> int:
    """Execute ``notebook`` with its committed parameters and store in it the outputs of its
    ``nbval-check-output`` cells only (every other output cleared); returns how many.

    nbval compares these stored outputs in CI, so they must not depend on the machine: an
    output naming the repository's absolute path is refused.
    """
    import json
    import tempfile

    import nbformat
    import papermill as pm

    path = Path(notebook)
    check_kernel()
    with tempfile.TemporaryDirectory() as tmp:
        executed = Path(tmp) / path.name
        pm.execute_notebook(
            str(path),
            str(executed),
            kernel_name="python3",
            progress_bar=False,
            cwd=str(path.parent.resolve()),
        )
        ran = nbformat.read(str(executed), as_version=4)
    nb = nbformat.read(str(path), as_version=4)
    by_id = {c.get("id"): c for c in ran.cells}
    kept = 0
    forbidden = str(path.resolve().parent.parent)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.execution_count = None
        cell.outputs = []
        if "nbval-check-output" in cell.get("metadata", {}).get("tags", []):
            outputs = by_id[cell.get("id")].outputs
            if forbidden in json.dumps(outputs):
                raise UserError(
                    f"{path}: a checked cell's output names {forbidden}; "
                    "show names relative to the project, not absolute paths"
                )
            cell.outputs = outputs
            cell.execution_count = by_id[cell.get("id")].execution_count  # nbval needs it
            kept += 1
    atomic_write_text(path, nbformat.writes(nb) + "\n")
    return kept


def build_html(
    executed: Sequence[str | Path],
    path: str | Path,
    *,
    title: str,
    intro: str = "",
    summary: str = "",
) -> Path:
    """Join executed notebooks into one HTML page that reads like a report: the title, the
    ``intro`` and ``summary`` (markdown) first, then each notebook's figures and tables with
    code hidden and images embedded; the cells tagged ``report-appendix`` (run settings, long
    metric tables) and every notebook's printed output (training logs) move to an appendix,
    folded; parameters cells and stderr (progress bars) are left out."""
    import html as html_lib

    import nbformat
    from nbconvert import HTMLExporter

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
                    kept.append(o)
                cell.outputs = kept
                if not cell.outputs:
                    continue
            (appendix if "report-appendix" in tags else combined.cells).append(cell)
        if "".join(printed).strip():
            logs.append((Path(nb_path).stem, "".join(printed)))
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
    order) into ``out`` (``reports/findings.csv``); returns the rows."""
    from cg.report.findings import read_csv, write_csv

    rows: list = []
    for name in names:
        path = Path(results_dir) / f"{name}.csv"
        if path.is_file():
            rows += read_csv(path)
    write_csv(rows, out)
    return rows


def summary_markdown(rows: Sequence[Mapping[str, Any]], seconds: float) -> str:
    """The page's first section: every finding with its verdict, numbers and interval, and how
    long the run took on what machine."""
    from cg.report import stats as S
    from cg.report.findings_table import REPORT_CHECKS
    from cg.runtime import describe_machine

    def counted(part: Sequence[Mapping[str, Any]]) -> str:
        n = {v: sum(r["verdict"] == v for r in part) for v in (S.HOLDS, S.FAILS, S.UNDECIDED)}
        return f"{n[S.HOLDS]} hold, {n[S.FAILS]} do not hold, {n[S.UNDECIDED]} undecided"

    core = [r for r in rows if r["id"] in REPORT_CHECKS]
    further = [r for r in rows if r["id"] not in REPORT_CHECKS]
    more = f"; {len(further)} further checks: {counted(further)}" if further else ""
    lines = [
        "## Summary",
        "",
        f"Built in {seconds / 60:.1f} minutes on {describe_machine()}. "
        f"{len(core)} checks of the report's findings (R9): {counted(core)}{more}. Each is "
        "decided from a statistic of the validation images and its 95% bootstrap interval "
        "over the images (the section of each dataset says how).",
        "",
        "| finding | dataset | claim | verdict | statistic [95% interval] | numbers |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        est = S.Estimate(float(r["value"]), float(r["low"]), float(r["high"]), int(r["n"]))
        cells = [
            r["id"],
            r["dataset"],
            r["claim"],
            f"**{r['verdict']}**",
            f"{r['statistic']}: {est}",
            r["numbers"],
        ]
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def _intro(profile: str, params: Mapping[str, Mapping[str, Any]], roots: Mapping[str, str]) -> str:
    from cg import __version__

    common = params.get("cityscapes", {})
    shown = ", ".join(
        f"{k}={common[k]}"
        for k in (
            "image_size",
            "base_channels",
            "epochs",
            "lr",
            "batch_size",
            "n_train",
            "n_val",
            "seed",
        )
        if k in common
    )
    data = ", ".join(f"{k}: {Path(v).name}/" for k, v in roots.items()) or (
        "the built-in synthetic datasets"
    )
    return (
        f"Regenerated by `cg report --profile {profile}` (cg {__version__}). Data: {data}. "
        f"Training parameters: {shown}. Figure numbers follow the original report."
    )


def report(
    profile: str = "default",
    *,
    root: str | Path = ".",
    data_root: str | Path | None = None,
    data: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    out_dir: str | Path = "reports",
    only: Sequence[str] = (),
    progress: bool = True,
) -> Path:
    """Run the report with ``profile`` and write ``out_dir/report.html``; returns its path."""
    root = Path(root)
    params = load_profile(profile, root)
    roots = data_roots(data_root, data)
    for name in NOTEBOOKS:
        params[name].update(make_absolute(dict(overrides or {}), Path.cwd()))
        if name in roots:
            params[name]["data_root"] = roots[name]
    out = Path(out_dir)
    results = (out / "findings").resolve()
    for name in NOTEBOOKS:
        params[name].setdefault("results_dir", str(results))
    start = time.perf_counter()
    times = run_notebooks(
        params, notebooks_dir=root / "notebooks", out_dir=out_dir, only=only, progress=progress
    )
    executed = [out / f"{n}.ipynb" for n in times]
    rows = collect_findings(results, [n for n in NOTEBOOKS if n in times], out / "findings.csv")
    total = time.perf_counter() - start
    html = build_html(
        executed,
        out / "report.html",
        title="U-Net CycleGAN: the report, regenerated",
        intro=_intro(profile, params, roots),
        summary=summary_markdown(rows, total) if rows else "",
    )
    print(
        f"report: {html} ({total:.0f} s: "
        + ", ".join(f"{n} {t:.0f} s" for n, t in times.items())
        + f"); findings: {out / 'findings.csv'}",
        flush=True,
    )
    return html
