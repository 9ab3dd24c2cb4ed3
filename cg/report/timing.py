"""Where the seconds of a report build go: ``profile.csv`` beside ``report.html``.

``cg report`` writes one row per share of its wall time, with the columns ``stage`` (``plan``:
the profiles read and the built-in data synthesized; ``grid``; ``notebooks``; ``page``),
``item`` (a run, a notebook's cell, ...), ``part`` and ``seconds``:

- ``grid`` rows, one per run trained and part: ``steps``, ``evaluation`` (the per-epoch
  metrics), ``samples``, ``checkpoint``, and ``other`` (the rest of the run's wall time in its
  worker: reading the data, building the networks, writing the history); the item ``(grid)``
  has ``wall`` and ``idle``: the seconds, summed over the processes that trained runs, in
  which one of them trained none (its start, and the grid's tail, when fewer runs are left
  than workers);
- ``notebooks`` rows, one per cell that took at least :data:`SHOWN_CELL` seconds, as
  papermill timed it (``notebook:N`` and the cell's first line), and the rest of each notebook
  (``(kernel and small cells)``: the kernel's start and the quick cells).

``python -m cg.report.timing A.csv [B.csv]`` prints the summary table of one build, or two side
by side (docs/benchmarks.md shows them). :func:`from_log` reads the same table, less the runs'
parts, from an older build's console output and executed notebooks, which had no profile
(``python -m cg.report.timing --from-log LOG REPORT_DIR OUT.csv``).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd

from cg.errors import UserError
from cg.files import atomic_write_text

__all__ = [
    "COLUMNS",
    "SHOWN_CELL",
    "from_log",
    "grid_rows",
    "notebook_rows",
    "read",
    "row",
    "summary",
    "write",
]

COLUMNS = ("stage", "item", "part", "seconds")
#: Cells at least this long get a row of their own (the others are summed per notebook).
SHOWN_CELL = 1.0
#: Run parts in the profile, from :func:`cg.train.loop.train`'s ``timings``.
PARTS = {
    "steps_s": "steps",
    "evaluation_s": "evaluation",
    "samples_s": "samples",
    "checkpoint_s": "checkpoint",
}


def grid_rows(outcomes: Iterable[Any], wall: float) -> list[dict[str, Any]]:
    """The grid's rows from its outcomes (:class:`cg.report.runs.worker.Outcome`) and its wall
    seconds. Idle time is counted over the processes that trained runs."""
    rows: list[dict[str, Any]] = []
    busy = 0.0
    workers: set[str] = set()
    for o in outcomes:
        if o.status == "reused" and o.where == "here":
            continue
        busy += o.seconds
        workers.add(o.where)
        phases = dict(o.phases)
        if not phases:
            rows.append(row("grid", o.name, o.status, o.seconds))
            continue
        for key, part in PARTS.items():
            rows.append(row("grid", o.name, part, phases.get(key, 0.0)))
        rows.append(row("grid", o.name, "other", o.seconds - phases.get("epoch_s", 0.0)))
    rows.append(row("grid", "(grid)", "wall", wall))
    if workers:
        rows.append(row("grid", "(grid)", "idle", max(0.0, len(workers) * wall - busy)))
    return rows


def notebook_rows(executed: Path, wall: float) -> list[dict[str, Any]]:
    """A notebook's rows from its executed copy (papermill's ``duration`` of each cell) and
    the notebook's wall seconds."""
    nb = nbformat.read(str(executed), as_version=4)
    rows, timed = [], 0.0
    for i, cell in enumerate(nb.cells):
        took = (cell.get("metadata", {}).get("papermill", {}) or {}).get("duration") or 0.0
        if cell.cell_type == "code" and took >= SHOWN_CELL:
            first = next((line for line in cell.source.splitlines() if line.strip()), "")
            rows.append(row("notebooks", f"{executed.stem}:{i}", first.strip()[:60], took))
            timed += took
    rows.append(row("notebooks", executed.stem, "(kernel and small cells)", wall - timed))
    return rows


def write(rows: Sequence[Mapping[str, Any]], path: Path) -> None:
    """Write the profile's rows as CSV (atomically)."""
    frame = pd.DataFrame(list(rows), columns=list(COLUMNS))
    atomic_write_text(path, frame.to_csv(index=False, float_format="%.3f"))


def read(path: str | Path) -> pd.DataFrame:
    """A ``profile.csv``; a UserError naming the file when it is not one."""
    try:
        frame = pd.read_csv(path, keep_default_na=False)
    except (OSError, ValueError) as e:
        raise UserError(f"{path}: cannot read it as a build profile ({e})") from None
    if list(frame.columns) != list(COLUMNS):
        raise UserError(
            f"{path}: not a build profile (columns {', '.join(COLUMNS)}, as `cg report` "
            "writes profile.csv)"
        )
    return frame


def summary(frame: pd.DataFrame) -> pd.DataFrame:
    """One build's seconds by line of the summary: the stages, the runs' parts summed over
    the runs (worker-seconds), the grid's idle worker-seconds, and each notebook's longest
    cells."""
    lines: dict[str, float] = {}

    def add(name: str, seconds: float) -> None:
        lines[name] = lines.get(name, 0.0) + float(seconds)

    for stage in ("plan", "grid", "notebooks", "page"):
        part = frame[frame.stage == stage]
        if stage == "grid":
            add("grid (wall)", part[part.part == "wall"].seconds.sum())
            runs = part[part.item != "(grid)"]
            for name, group in runs.groupby("part", sort=False):
                add(f"  runs: {name} (worker-s)", group.seconds.sum())
            add("  idle (worker-s)", part[part.part == "idle"].seconds.sum())
        elif stage == "notebooks":
            add("notebooks", part.seconds.sum())
            for _, r in part.iterrows():
                label = r["item"] if ":" not in r["item"] else f"{r['item']} {r['part']}"
                add(f"  {label}", r.seconds)
        else:
            add(stage, part.seconds.sum())
    add("total", frame[frame.part == "total"].seconds.sum())
    return pd.Series(lines, name="seconds").to_frame()


def from_log(log: str, report_dir: Path) -> pd.DataFrame:
    """An older build's profile from its console output (``log``: what ``cg report`` printed)
    and the executed notebooks in ``report_dir``: each run's wall seconds (no parts), the
    grid's wall, each notebook's cells, and the total."""
    rows = []
    for name, took in re.findall(r"^trained (\S+) in ([0-9.]+) s", log, re.M):
        rows.append(row("grid", name, "trained", float(took)))
    grid = re.search(r"^grid: .* in ([0-9.]+) s$", log, re.M)
    if grid:
        rows.append(row("grid", "(grid)", "wall", float(grid.group(1))))
    for name, took in re.findall(r"^    (\w+): ([0-9.]+) s$", log, re.M):
        executed = report_dir / f"{name}.ipynb"
        if executed.is_file():
            rows += notebook_rows(executed, float(took))
    total = re.search(r"^report: \S+ \(([0-9.]+) s", log, re.M)
    if total:
        rows.append(row("total", "(report)", "total", float(total.group(1))))
    return pd.DataFrame(rows, columns=list(COLUMNS))


def row(stage: str, item: str, part: str, seconds: float) -> dict[str, Any]:
    """One row of the profile."""
    return {"stage": stage, "item": item, "part": part, "seconds": float(seconds)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cg.report.timing",
        description="the summary of one report build's profile.csv, or two side by side",
    )
    parser.add_argument("profiles", nargs="+", metavar="PROFILE.csv")
    parser.add_argument(
        "--from-log",
        nargs=2,
        metavar=("LOG", "REPORT_DIR"),
        help="first write PROFILE.csv (one) from an older build's console output and its "
        "executed notebooks",
    )
    args = parser.parse_args(argv)
    if len(args.profiles) > 2 or (args.from_log and len(args.profiles) != 1):
        parser.error("give one or two profiles (one with --from-log)")
    try:
        if args.from_log:
            log, report_dir = args.from_log
            try:
                text = Path(log).read_text(encoding="utf-8", errors="replace")
            except OSError as e:
                raise UserError(f"{log}: cannot read it ({e.strerror})") from None
            write(from_log(text, Path(report_dir)).to_dict("records"), Path(args.profiles[0]))
        tables = [summary(read(p)) for p in args.profiles]
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    names = [str(p) for p in args.profiles]
    table = pd.concat([t.seconds for t in tables], axis=1, keys=names).fillna(0.0)
    header = ["", *(f"{n} (s)" for n in names)] + (["ratio"] if len(names) == 2 else [])
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for line, values in table.iterrows():
        cells = [f"{v:.1f}" for v in values]
        if len(names) == 2:
            cells.append(f"{values.iloc[0] / values.iloc[1]:.2f}" if values.iloc[1] else "")
        print(f"| {line.replace('  ', '&nbsp;&nbsp;')} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
