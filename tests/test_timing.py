"""The build's profile (cg.report.timing): rows from a grid's outcomes and from executed
notebooks, an older build's profile read from its console output, and the summary table."""

from __future__ import annotations

import nbformat
import pytest

from cg.errors import UserError
from cg.report import timing
from cg.report.runs.worker import Outcome

PHASES = (
    ("steps_s", 6.0),
    ("evaluation_s", 2.0),
    ("samples_s", 0.5),
    ("checkpoint_s", 0.25),
    ("epoch_s", 9.0),
)


def _notebook(path, durations):
    nb = nbformat.v4.new_notebook()
    for i, d in enumerate(durations):
        cell = nbformat.v4.new_code_cell(f"\n# cell {i}\nx = {i}")
        cell.metadata["papermill"] = {"duration": d}
        nb.cells.append(cell)
    nb.cells.append(nbformat.v4.new_markdown_cell("text"))
    nbformat.write(nb, str(path))
    return path


def test_grid_rows_split_each_run_and_count_the_idle_worker_seconds():
    outcomes = [
        Outcome("a", "trained", 10.0, "host:1", phases=PHASES),
        Outcome("b", "trained", 4.0, "host:2", phases=PHASES[:1] + (("epoch_s", 3.5),)),
        Outcome("c", "reused", 0.0, "here"),  # finished before the grid: no worker
    ]
    rows = timing.grid_rows(outcomes, wall=12.0)
    by = {(r["item"], r["part"]): r["seconds"] for r in rows}
    assert by[("a", "steps")] == 6.0 and by[("a", "evaluation")] == 2.0
    assert by[("a", "other")] == pytest.approx(1.0)  # 10 s in the worker, 9 s of epochs
    assert by[("b", "evaluation")] == 0.0 and by[("b", "other")] == pytest.approx(0.5)
    assert ("c", "steps") not in by
    assert by[("(grid)", "wall")] == 12.0
    assert by[("(grid)", "idle")] == pytest.approx(2 * 12.0 - 14.0)


def test_notebook_rows_keep_long_cells_and_the_rest(tmp_path):
    path = _notebook(tmp_path / "edges2shoes.ipynb", [0.2, 3.0, 0.5, 12.0])
    rows = timing.notebook_rows(path, wall=20.0)
    assert [(r["item"], r["part"], r["seconds"]) for r in rows] == [
        ("edges2shoes:1", "# cell 1", 3.0),
        ("edges2shoes:3", "# cell 3", 12.0),
        ("edges2shoes", "(kernel and small cells)", 5.0),
    ]


def test_an_older_build_reads_from_its_console_output(tmp_path, capsys):
    _notebook(tmp_path / "survey.ipynb", [4.0])
    log = (
        "grid: 2 of 2 runs to train on this machine: 2 run(s) at a time\n"
        "trained x-adv-1 in 30.5 s (vm:1)\n"
        "trained x-noadv-2 in 20.0 s (vm:2)\n"
        "grid: 2 trained, 0 reused, 0 failed in 31 s\n"
        "[1/1] survey.ipynb -> reports/survey.ipynb\n"
        "    survey: 6.5 s\n"
        "report: reports/report.html (40 s: survey 6 s); findings: reports/findings.csv\n"
    )
    frame = timing.from_log(log, tmp_path)
    assert frame[frame.stage == "grid"].seconds.tolist() == [30.5, 20.0, 31.0]
    assert frame[frame.stage == "notebooks"].seconds.sum() == pytest.approx(6.5)
    table = timing.summary(frame)
    assert table.loc["grid (wall)", "seconds"] == 31.0
    assert table.loc["  runs: trained (worker-s)", "seconds"] == 50.5
    assert table.loc["total", "seconds"] == 40.0
    frame.to_csv(tmp_path / "old.csv", index=False)
    assert timing.main([str(tmp_path / "old.csv"), str(tmp_path / "old.csv")]) == 0
    out = capsys.readouterr().out
    assert "| total | 40.0 | 40.0 | 1.00 |" in out


def test_a_file_that_is_not_a_profile_is_named(tmp_path):
    bad = tmp_path / "findings.csv"
    bad.write_text("id,verdict\nR9.1,holds\n")
    with pytest.raises(UserError, match="findings.csv: not a build profile"):
        timing.read(bad)
    assert timing.main([str(bad)]) == 2


def test_from_log_writes_the_profile_it_summarises(tmp_path, capsys):
    log = tmp_path / "build.log"
    log.write_text("grid: 1 trained, 0 reused, 0 failed in 9 s\nreport: r.html (12 s: ); f\n")
    out = tmp_path / "old.csv"
    assert timing.main(["--from-log", str(log), str(tmp_path), str(out)]) == 0
    assert "| total | 12.0 |" in capsys.readouterr().out
    assert timing.read(out).seconds.tolist() == [9.0, 12.0]
    assert timing.main(["--from-log", str(tmp_path / "none.log"), str(tmp_path), str(out)]) == 2
    assert "none.log: cannot read it" in capsys.readouterr().err
