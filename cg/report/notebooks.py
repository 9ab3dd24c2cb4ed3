"""``cg report``: run every notebook with papermill and assemble one HTML report.

The notebooks (:data:`~cg.report.runs.profiles.NOTEBOOKS`, in the report's order) each have one cell
tagged ``parameters``; a profile (:mod:`cg.report.runs.profiles`) gives their values. Each notebook
is executed into ``reports/<name>.ipynb``; then all of them are joined into one self-contained
``reports/report.html`` (code hidden, images embedded, progress output left out).
``--data-root DIR`` points the dataset notebooks at ``DIR/<dataset>`` (the layout
``cg data download`` writes); ``--data NAME=DIR`` at one folder each.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import nbformat
import papermill as pm
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
from jupyter_client.manager import AsyncKernelManager

from cg import __version__, errors
from cg.errors import UserError
from cg.files import atomic_write_text, file_mode
from cg.report import timing
from cg.report.page.html import build_html, collect_findings, summary_markdown
from cg.report.runs import grid, schedule
from cg.report.runs.profiles import NOTEBOOKS, data_roots, load_profile, make_absolute
from cg.runtime import describe_machine
from cg.train.run_dir import RunDir


def check_kernel(name: str = "python3") -> None:
    """Make sure the Jupyter kernel ``name`` runs this Python (the one with cg installed)."""

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


def _kernel_manager_class(socket_dir: str | Path, kernels: list[Any]) -> type:
    """Kernels for the notebook runs over IPC sockets, not TCP ports: a local run needs no
    network port, and the kernel then has no reason to print its warning about unencrypted TCP
    into every run's log. The socket files are ``socket_dir/kernel-N``, a folder private to
    one notebook run (jupyter_client's default is ``kernel-ipc-N`` in the working folder, the
    same names for every run: two reports at once would share them).

    Each kernel starts in a session of its own (jupyter_client's way), so the terminal's Ctrl-C
    reaches the conductor alone; its process goes into ``kernels`` as it starts, for
    :func:`_stop_kernels`. When the report is interrupted the kernel is killed at once (with
    its process group) instead of asked to shut down: asked in the middle of a cell, it would
    close its sockets under the running cell and print the failed reply to the terminal.
    """

    prefix = str(Path(socket_dir) / "kernel")

    class IpcKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs: Any) -> None:
            kwargs.setdefault("transport", "ipc")
            kwargs.setdefault("ip", prefix)
            super().__init__(**kwargs)

        async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
            with errors.deferred():  # no kernel started that the conductor cannot stop
                await super()._async_launch_kernel(kernel_cmd, **kw)
                kernels.append(self.provisioner.process)

        async def shutdown_kernel(self, now: bool = False, restart: bool = False) -> None:
            now = now or errors.received() is not None
            await super().shutdown_kernel(now=now, restart=restart)

    return IpcKernelManager


def _stop_kernels(kernels: list[Any]) -> None:
    """Kill the process group of every kernel still running (one left by an interrupt while it
    started, before nbclient took charge of it) and wait for it."""
    for process in kernels:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # its own session: pgid == pid
            process.wait()


def _declared(notebook: Path) -> set[str]:

    return set(pm.inspect_notebook(str(notebook)))


def selected(only: Sequence[str] = ()) -> list[str]:
    """The notebooks to run, in the report's order: those named in ``only`` (all by default);
    a UserError for a name that is not one of them."""
    for n in only:
        if n not in NOTEBOOKS:
            raise UserError(f"unknown notebook {n!r}; known: {', '.join(NOTEBOOKS)}")
    return [n for n in NOTEBOOKS if not only or n in only]


def run_notebooks(
    params: Mapping[str, Mapping[str, Any]],
    *,
    notebooks_dir: str | Path = "notebooks",
    out_dir: str | Path = "reports",
    only: Sequence[str] = (),
    progress: bool = True,
    shown_dir: str | Path | None = None,
) -> dict[str, float]:
    """Execute each notebook with its parameters into ``out_dir``; ``{name: seconds}``.

    Each notebook receives only the parameters its ``parameters`` cell declares. A failing
    notebook stops the run with a UserError naming it, its failing cell and the error.
    """

    src_dir, out = Path(notebooks_dir), Path(out_dir)
    names = selected(only)
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
        declared = _declared(src)
        used = {k: v for k, v in given.items() if k in declared}
        shown = Path(shown_dir or out) / f"{name}.ipynb"
        print(f"[{i}/{len(names)}] {name}.ipynb -> {shown}", flush=True)
        start = time.perf_counter()
        sockets = tempfile.mkdtemp(prefix="cg-kernel-")
        kernels: list[Any] = []
        try:
            pm.execute_notebook(
                str(src),
                str(out / f"{name}.ipynb"),
                parameters=used,
                kernel_name="python3",
                progress_bar=progress,
                cwd=str(src_dir.resolve()),
                kernel_manager_class=_kernel_manager_class(sockets, kernels),
            )
        except pm.PapermillExecutionError as e:
            last = (e.evalue or "").strip().splitlines()
            raise UserError(
                f"notebook {src} failed in cell {e.exec_count}: {e.ename}: "
                f"{last[-1] if last else ''} (executed copy: {shown})"
            ) from None
        finally:
            _stop_kernels(kernels)
            shutil.rmtree(sockets, ignore_errors=True)
        times[name] = time.perf_counter() - start
        print(f"    {name}: {times[name]:.1f} s", flush=True)
    return times


def store_checked_outputs(notebook: str | Path) -> int:
    """Execute ``notebook`` with its committed parameters and store in it the outputs of its
    ``nbval-check-output`` cells only (every other output cleared); returns how many.

    nbval compares these stored outputs in CI, so they must not depend on the machine: an
    output naming the repository's absolute path is refused.
    """

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


def _intro(
    profile: str,
    params: Mapping[str, Mapping[str, Any]],
    roots: Mapping[str, str],
    plans: Sequence[grid.Plan],
) -> str:

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
    precisions = sorted({j.config.precision for p in plans for j in p.jobs})
    if precisions:  # as resolved for this machine (precision=auto: bf16 where the CPU has it)
        shown += f", precision={'/'.join(precisions)}"
    data = ", ".join(f"{k}: {Path(v).name}/" for k, v in roots.items()) or (
        "the built-in synthetic datasets"
    )
    return (
        f"Regenerated by `cg report --profile {profile}` (cg {__version__}) on "
        f"{describe_machine()}. Data: {data}. Training parameters: {shown}. Figure numbers "
        "follow the original report."
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
    workers: int | None = None,
    threads: int | None = None,
    scheduler: str | None = None,
) -> Path:
    """Run the report with ``profile`` and write ``out_dir/report.html``; returns its path.

    First the grid (:mod:`cg.report.runs.grid`): every run the dataset notebooks need, the
    unfinished ones trained side by side (:func:`cg.report.runs.schedule.train_grid`: ``workers``
    runs at a time with ``threads`` each, or on the Dask cluster at ``scheduler``); then the
    notebooks, which find their runs finished. Everything is written into a folder private to
    this report first and moved into ``out_dir`` at the end, file by file (each a rename), so
    two reports at once never read each other's half-written files.
    """

    root = Path(root)
    params = load_profile(profile, root)
    roots = data_roots(data_root, data)
    for name in NOTEBOOKS:
        params[name].update(make_absolute(dict(overrides or {}), Path.cwd()))
        if name in roots:
            params[name]["data_root"] = roots[name]
    names = selected(only)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".report-", dir=out))
    try:
        results = stage / "findings"
        for name in NOTEBOOKS:
            params[name].setdefault("results_dir", str(results.resolve()))
        start = time.perf_counter()
        plans = grid.report_plans({n: params[n] for n in names}, root / "notebooks")
        spent = [timing.row("plan", "(plan)", "plan", time.perf_counter() - start)]
        jobs = [j for p in plans for j in p.jobs]
        if jobs:
            began = time.perf_counter()
            outcomes = schedule.train_grid(
                jobs, workers=workers, threads=threads, scheduler=scheduler, progress=progress
            )
            spent += timing.grid_rows(outcomes, time.perf_counter() - began)
        try:
            times = run_notebooks(
                params,
                notebooks_dir=root / "notebooks",
                out_dir=stage,
                only=only,
                progress=progress,
                shown_dir=out,
            )
        except UserError:
            _publish(stage, out)  # the executed copy of the failing notebook, to look at
            raise
        executed = [stage / f"{n}.ipynb" for n in times]
        for path, seconds in zip(executed, times.values()):
            spent += timing.notebook_rows(path, seconds)
        paging = time.perf_counter()
        done = [n for n in NOTEBOOKS if n in times]
        rows = collect_findings(results, done, stage / "findings.csv")
        total = time.perf_counter() - start
        build_html(
            executed,
            stage / "report.html",
            title="U-Net CycleGAN: the report, regenerated",
            intro=_intro(profile, params, roots, plans),
            summary=summary_markdown(rows, total) if rows else "",
            run_logs={p.dataset: _run_logs(p) for p in plans},
        )
        spent.append(timing.row("page", "(page)", "page", time.perf_counter() - paging))
        spent.append(timing.row("total", "(report)", "total", time.perf_counter() - start))
        timing.write(spent, stage / "profile.csv")
        with errors.deferred():  # all of the report's files, or none
            _publish(stage, out)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    html = out / "report.html"
    print(
        f"report: {html} ({total:.0f} s: "
        + ", ".join(f"{n} {t:.0f} s" for n, t in times.items())
        + f"); findings: {out / 'findings.csv'}",
        flush=True,
    )
    return html


def _run_logs(plan: Any) -> str:
    """The training logs of a plan's runs, each under its run folder's name."""

    parts = []
    for job in plan.jobs:
        path = RunDir(job.out).log_path
        if path.is_file():
            parts.append(f"== {job.name}\n{path.read_text(encoding='utf-8', errors='replace')}")
    return "".join(parts)


def _publish(stage: Path, out: Path) -> None:
    """Move every file under ``stage`` to the same place under ``out`` (each an atomic rename
    over the old file; the report.html last, once what it shows is in place)."""
    files = sorted(
        (p for p in stage.rglob("*") if p.is_file()), key=lambda p: p.name == "report.html"
    )
    for f in files:
        target = out / f.relative_to(stage)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(f, file_mode())
        os.replace(f, target)
