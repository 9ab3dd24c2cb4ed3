"""The report's grid (cg.report.runs.grid) and its scheduling (cg.report.runs.schedule): one
description of the runs for the scheduler and the notebooks, run folders named by what decides the
result, workers sized to the machine, the same runs bitwise in a worker as alone, failures named,
and Ctrl-C leaving every run resumable."""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
from helpers import start_as_terminal

from cg.checkpoints import load_checkpoint
from cg.report.runs import grid, layout, profiles, schedule
from cg.train.run_dir import RunDir

REPO = Path(__file__).resolve().parents[1]
SMOKE = dict(image_size=32, base_channels=4, epochs=2, batch_size=4, lr=0.002, n_train=8, n_val=4)


def _plan(tmp: Path, dataset: str = "edges2shoes", **changes) -> grid.Plan:
    values = {**SMOKE, "device": "cpu", "seed": 3, **changes}
    return grid.plan(dataset, cache_dir=tmp / "cache", runs_dir=tmp / "runs", **values)


def _same_history(a: Path, b: Path) -> None:
    ha = pd.read_csv(RunDir(a).history_path).drop(columns="seconds")
    hb = pd.read_csv(RunDir(b).history_path).drop(columns="seconds")
    pd.testing.assert_frame_equal(ha, hb, check_exact=True)


def _same_weights(a: Path, b: Path) -> None:
    sa, sb = load_checkpoint(RunDir(a).last), load_checkpoint(RunDir(b).last)
    for net in ("g_ab", "g_ba"):
        wa, wb = sa["models"][net], sb["models"][net]
        assert wa.keys() == wb.keys()
        for k in wa:
            assert torch.equal(wa[k], wb[k]), (net, k)


# --- one description ---------------------------------------------------------------------------


def test_notebooks_declare_every_parameter_of_the_plan_and_run_the_grid_s_experiments():
    import nbformat

    for name, runs in grid.RUNS.items():
        defaults = grid.notebook_defaults(REPO / "notebooks" / f"{name}.ipynb")
        assert set(grid.PARAMETERS) <= set(defaults), name
        source = "\n".join(
            c.source for c in nbformat.read(str(REPO / "notebooks" / f"{name}.ipynb"), 4).cells
        )
        assert "grid.plan(" in source and "finished.runs(plan)" in source
        assert "finished.experiment(" not in source  # no run outside the grid
        for experiment in runs:
            assert f'runs["{experiment}"]' in source
    assert set(grid.RUNS) == set(profiles.DATASETS)


def test_report_plans_resolve_the_notebooks_defaults_and_the_profile(tmp_path):
    params = profiles.load_profile("smoke", REPO)
    params = {n: {**p, "cache_dir": str(tmp_path / "c"), "runs_dir": str(tmp_path / "r")}
              for n, p in params.items()}  # fmt: skip
    plans = grid.report_plans(params, REPO / "notebooks")
    assert [p.dataset for p in plans] == list(grid.RUNS)
    names = [j.name for p in plans for j in p.jobs]
    seeds = params["cityscapes"]["n_seeds"]
    every = seeds * sum(len(r) for r in grid.RUNS.values())
    assert len(names) == len(set(names)) == every
    assert plans[0].seeds == tuple(range(params["cityscapes"]["seed"], seeds))
    job = plans[1].job("noadv")
    # the smoke profile names no lr: the notebook's own default applies, as papermill leaves it
    assert job.config.lr == grid.notebook_defaults(REPO / "notebooks/edges2shoes.ipynb")["lr"]
    assert job.config.checkpoint_every == 1 and job.out.parent == tmp_path / "r"
    with pytest.raises(Exception, match="has no run"):
        plans[2].job("noadv")


def test_run_folder_depends_only_on_what_decides_the_result(tmp_path):
    plan = _plan(tmp_path)
    job = plan.job("noadv")
    moved = tmp_path / "elsewhere" / "data"
    shutil.copytree(plan.data.root, moved)
    again = _plan(tmp_path, data_root=str(moved)).job("noadv")
    assert again.config.data != job.config.data and again.out == job.out  # a moved dataset
    fp = plan.data.fingerprint()
    faster = dataclasses.replace(job.config, num_workers=2, cache_gib=0.0)
    assert grid.result_key(faster, fp) == grid.result_key(job.config, fp)
    assert _plan(tmp_path, lr=0.001).job("noadv").out != job.out
    assert _plan(tmp_path, seed=4).job("noadv").out != job.out
    # different content: one training image one byte longer
    victim = sorted((moved / "train").iterdir())[0]
    victim.write_bytes(victim.read_bytes() + b"\0")
    assert _plan(tmp_path, data_root=str(moved)).job("noadv").out != job.out


def test_precision_auto_is_bf16_only_on_a_cpu_with_bf16_hardware(tmp_path, monkeypatch):
    from cg import runtime
    from cg.errors import UserError

    fp32 = _plan(tmp_path).job("adv")
    assert fp32.config.precision == "fp32"  # the notebooks' default
    for hardware, expected in ((True, "bf16"), (False, "fp32")):
        monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda h=hardware: h)
        auto = _plan(tmp_path, precision="auto").job("adv")
        assert auto.config.precision == expected
        # the run folder names what was resolved: a bf16 run never stands in for an fp32 one
        assert (auto.out == fp32.out) == (expected == "fp32")
    assert runtime.report_precision("auto", torch.device("cuda")) == "fp32"
    assert _plan(tmp_path, precision="bf16").job("adv").config.precision == "bf16"
    with pytest.raises(UserError, match="precision='half' is not one of auto, fp32"):
        _plan(tmp_path, precision="half")


def test_a_moved_dataset_finds_its_finished_run_and_resumes_an_unfinished_one(tmp_path):
    from cg.train.loop import run_is_complete, train

    plan = _plan(tmp_path)
    job = plan.job("adv")
    train(job.config, job.out, progress=False, quiet=True)
    moved = tmp_path / "moved"
    shutil.copytree(plan.data.root, moved)
    shutil.rmtree(plan.data.root)
    there = _plan(tmp_path, data_root=str(moved)).job("adv")
    assert run_is_complete(there.out, there.config)
    longer = dataclasses.replace(there.config, epochs=3)
    assert not run_is_complete(there.out, longer)
    train(longer, there.out, resume=True, progress=False, quiet=True)  # no config mismatch
    assert len(RunDir(there.out).read_history()) == 3
    other = tmp_path / "other"
    shutil.copytree(moved, other)
    for f in (other / "train").iterdir():
        f.write_bytes(f.read_bytes() + b"\0")
    changed = dataclasses.replace(longer, data=str(other))
    assert not run_is_complete(there.out, changed)
    with pytest.raises(Exception, match="different config"):
        train(changed, there.out, resume=True, progress=False, quiet=True)


# --- workers sized to the machine -------------------------------------------------------------


def test_default_layout_rule(tmp_path):
    jobs = list(_plan(tmp_path).jobs) * 4  # 8 small runs
    small = layout.default_layout(jobs, cores=2)
    assert (small.workers, small.threads) == (2, 1)
    assert layout.default_layout(jobs[:1], cores=2).workers == 1
    one = layout.default_layout(jobs, workers=1, cores=2)
    assert (one.workers, one.threads) == (1, 2)
    many = layout.default_layout(jobs, cores=16)
    assert (many.workers, many.threads) == (8, 1)
    report_size = dict(image_size=256, base_channels=64, batch_size=16)
    big = [
        dataclasses.replace(j, config=dataclasses.replace(j.config, **report_size)) for j in jobs
    ]
    wide = layout.default_layout(big[:4], cores=16)
    assert (wide.workers, wide.threads) == (4, 4)
    assert "thread" in small.describe()


# --- the same results -------------------------------------------------------------------------


def test_a_run_trained_by_a_worker_is_bitwise_the_run_trained_alone(tmp_path, one_thread):
    from cg.train.loop import train

    plan = _plan(tmp_path)
    outcomes = schedule.train_grid(plan.jobs, workers=2, threads=1, progress=False)
    assert [o.status for o in outcomes] == ["trained", "trained"]
    here = f"{socket.gethostname()}:{os.getpid()}"
    assert here not in {o.where for o in outcomes}  # in the pool's processes, not this one
    for job in plan.jobs:
        alone = tmp_path / "alone" / job.name
        train(job.config, alone, progress=False, quiet=True)  # this process, one thread
        _same_history(job.out, alone)
        _same_weights(job.out, alone)
        assert "epoch 2/2" in RunDir(job.out).log_path.read_text()
    again = schedule.train_grid(plan.jobs, progress=False)
    assert [o.status for o in again] == ["reused", "reused"]


# --- failures ---------------------------------------------------------------------------------


def test_a_failed_run_is_named_with_its_log_and_the_others_go_on(tmp_path, capsys):
    good = _plan(tmp_path)
    bad_data = tmp_path / "bad"
    shutil.copytree(good.data.root, bad_data)
    sorted((bad_data / "train").iterdir())[-1].unlink()  # other data: other run folders
    bad = _plan(tmp_path, data_root=str(bad_data))
    victim = sorted((bad_data / "train").iterdir())[0]
    victim.write_bytes(b"not an image at all")  # after planning: the run itself fails
    jobs = [bad.job("noadv"), *good.jobs]
    with pytest.raises(schedule.GridFailed) as failed:
        schedule.train_grid(jobs, workers=2, threads=1, progress=False)
    lines = str(failed.value).splitlines()
    assert len(lines) == 2 and lines[1].startswith(f"failed run {jobs[0].name}: ")
    assert victim.name in lines[1]
    out = capsys.readouterr().out
    assert f"failed {jobs[0].name}" in out and "Traceback" in out  # the log's tail
    for job in good.jobs:
        assert RunDir(job.out).is_complete(job.config)
    shutil.copy(sorted((Path(good.data.root) / "train").iterdir())[0], victim)
    outcomes = schedule.train_grid(jobs, workers=2, threads=1, progress=False)
    assert [o.status for o in outcomes] == ["trained", "reused", "reused"]


def test_cg_report_exits_non_zero_with_one_line_per_failed_run(tmp_path, capsys):
    from cg.cli import main
    from cg.data import synthesize

    data = tmp_path / "data"
    synthesize("edges2shoes", data, size=32, n_train=4, n_val=2, seed=1)
    for f in (data / "train").iterdir():
        f.write_bytes(f.read_bytes()[:40])  # every training pair cut short
    args = ["report", "--profile", "smoke", "--root", str(REPO), "--only", "edges2shoes"]
    args += ["--data", f"edges2shoes={data}", "--out", str(tmp_path / "reports"), "--quiet"]
    for key in ("cache_dir", "runs_dir", "figures_dir"):
        args += ["-p", f"{key}={tmp_path / key}"]
    args += ["-p", "n_seeds=1"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("error: 2 run(s) failed")
    assert len(err) == 3 and all(e.startswith("failed run edges2shoes-") for e in err[1:])
    assert not (tmp_path / "reports" / "report.html").exists()


def _report_cmd(tmp: Path, *extra: str) -> list[str]:
    cmd = [sys.executable, "-m", "cg", "report", "--profile", "smoke", "--root", str(REPO)]
    cmd += ["--only", "edges2shoes", "--out", str(tmp / "reports"), "--no-progress"]
    for key in ("cache_dir", "runs_dir", "figures_dir"):
        cmd += ["-p", f"{key}={tmp / key}"]
    return cmd + list(extra)


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def _wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


@pytest.mark.slow
def test_ctrl_c_stops_every_worker_and_the_next_report_resumes(tmp_path):
    cmd = _report_cmd(tmp_path, "-p", "epochs=40", "-p", "n_seeds=1", "--workers", "2")
    proc = start_as_terminal(cmd)
    runs = tmp_path / "runs_dir"
    try:
        _wait_for(
            lambda: len(list(runs.glob("*/checkpoints/last.pt"))) == 2, 240, "two checkpoints"
        )
        workers = _children(proc.pid)
        assert len([w for w in workers if Path(f"/proc/{w}").exists()]) >= 2
        os.killpg(proc.pid, signal.SIGINT)  # a terminal's Ctrl-C: the whole process group
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "error: interrupted", err
    assert "Traceback" not in err
    for w in workers:
        _wait_for(lambda w=w: not Path(f"/proc/{w}").exists(), 10, f"worker {w} to end")
    folders = sorted(runs.iterdir())
    done = {f: len(RunDir(f).read_history()) for f in folders}
    assert all(0 < n < 40 for n in done.values()), done
    for f in folders:
        with RunDir(f).lock():  # nobody holds it
            pass
    # run again, shorter: every run resumes from its checkpoint and finishes
    again = subprocess.run(
        _report_cmd(tmp_path, "-p", "epochs=40", "-p", "n_seeds=1", "--workers", "2"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert again.returncode == 0, again.stderr
    for f in folders:
        text = RunDir(f).log_path.read_text()
        assert text.count("--- ") == 2  # two starts: the second one resumed
        assert len(RunDir(f).read_history()) == 40


def test_a_run_another_process_writes_is_waited_for_then_resumed_or_reused(tmp_path):
    import io
    import threading

    from cg.train.loop import train

    def grid_in_thread(job):
        out, result = io.StringIO(), {}
        thread = threading.Thread(
            target=lambda: result.update(
                outcomes=schedule.train_grid([job], workers=1, progress=False, out=out)
            )
        )
        thread.start()
        note = f"waiting for {job.name} (process {os.getpid()})"
        _wait_for(lambda: note in out.getvalue(), 60, "the worker to wait")
        return thread, result, out

    plan = _plan(tmp_path)
    # a run its trainer left after one of its two epochs (it ended, or died): resumed
    job = plan.job("adv")
    train(dataclasses.replace(job.config, epochs=1), job.out, progress=False, quiet=True)
    first = RunDir(job.out).read_history()
    holder = RunDir(job.out)
    holder.acquire()  # this process is "another trainer" to the worker's own open file
    thread, result, out = grid_in_thread(job)
    time.sleep(1.0)
    assert thread.is_alive() and len(RunDir(job.out).read_history()) == 1  # still waiting
    holder.release()
    thread.join(timeout=120)
    (outcome,) = result["outcomes"]
    assert (outcome.status, outcome.waited_for) == ("trained", str(os.getpid()))
    assert f"after waiting for process {os.getpid()}" in out.getvalue()
    history = RunDir(job.out).read_history()
    assert [r["epoch"] for r in history] == [1, 2] and history[:1] == first  # resumed
    # a run its trainer finishes while the worker waits: reused, not trained again
    job = plan.job("noadv")
    holder = RunDir(job.out)
    holder.acquire()
    thread, result, out = grid_in_thread(job)
    train(job.config, holder, progress=False, quiet=True)  # holds the lock, then gives it back
    thread.join(timeout=120)
    assert [o.status for o in result["outcomes"]] == ["reused"]
    assert not RunDir(job.out).log_path.exists()  # the worker never wrote to it


@pytest.mark.slow
def test_two_reports_at_once_on_one_checkout_do_not_collide(tmp_path):
    before = set((REPO / "notebooks").iterdir())
    procs = [
        subprocess.Popen(
            _report_cmd(tmp_path, "-p", f"seed={seed}", "--workers", "1"),  # blocks apart
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        for seed in (5, 50)
    ]
    results = [p.communicate(timeout=600) for p in procs]
    for p, (_out, err) in zip(procs, results):
        assert p.returncode == 0, err
    assert set((REPO / "notebooks").iterdir()) == before  # no socket files left in the tree
    assert not list((tmp_path / "reports").glob(".report-*"))
    assert (tmp_path / "reports" / "report.html").is_file()
    seeds = profiles.load_profile("smoke", REPO)["edges2shoes"]["n_seeds"]
    assert len(list((tmp_path / "runs_dir").iterdir())) == 2 * seeds * 2  # 2 blocks, 2 runs


@pytest.mark.slow
def test_two_reports_sharing_runs_train_each_run_once(tmp_path):
    seeds = profiles.load_profile("smoke", REPO)["edges2shoes"]["n_seeds"]
    assert seeds == 2  # seeds 1, 2 and 2, 3: the runs of seed 2 are both reports'
    procs = [
        start_as_terminal(_report_cmd(tmp_path, "-p", f"seed={seed}", "-p", "epochs=6"), cwd=REPO)
        for seed in (1, 2)
    ]
    results = [p.communicate(timeout=600) for p in procs]
    for p, (_out, err) in zip(procs, results):
        assert p.returncode == 0, err
    folders = sorted((tmp_path / "runs_dir").iterdir())
    assert len(folders) == 3 * 2  # 3 seeds, 2 experiments
    for f in folders:  # each trained by one worker, once
        assert RunDir(f).log_path.read_text().count("--- ") == 1, f
        assert [r["epoch"] for r in RunDir(f).read_history()] == list(range(1, 7))
    lines = [ln.split() for out, _ in results for ln in out.splitlines()]
    trained = [w[1] for w in lines if w[:1] == ["trained"]]
    assert len(trained) == len(set(trained)) == 6  # no run trained by both reports
    assert (tmp_path / "reports" / "report.html").is_file()


def test_the_report_page_drops_progress_bar_widgets(tmp_path):
    import nbformat

    from cg.report.page.html import build_html

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("train()")
    bar = "epoch 3/16:   0%|          | 0/16 [00:00<?, ?batch/s]"
    cell.outputs = [
        nbformat.v4.new_output(
            "display_data",
            data={
                "text/plain": bar,
                "application/vnd.jupyter.widget-view+json": {"model_id": "x", "version_major": 2},
            },
        ),
        nbformat.v4.new_output("display_data", data={"text/plain": "a table"}),
    ]
    nb.cells.append(cell)
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, str(path))
    html = build_html([path], tmp_path / "r.html", title="t").read_text()
    assert "a table" in html and "batch/s" not in html


# --- a real Dask cluster on 127.0.0.1 ---------------------------------------------------------


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A Dask scheduler and two workers (one thread each, with nannies), on 127.0.0.1 only;
    stopped at the end of the module."""
    from distributed import Client

    tmp = tmp_path_factory.mktemp("dask")
    dask = str(Path(sys.executable).parent / "dask")
    info = tmp / "scheduler.json"
    procs = [
        subprocess.Popen(
            [dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
             "--scheduler-file", str(info)],
            stdout=subprocess.DEVNULL, stderr=open(tmp / "scheduler.log", "w"),
            start_new_session=True,
        )
    ]  # fmt: skip
    try:
        _wait_for(info.exists, 60, "the scheduler")
        for i in range(2):
            procs.append(
                subprocess.Popen(
                    [dask, "worker", "--scheduler-file", str(info), "--host", "127.0.0.1",
                     "--nthreads", "1", "--no-dashboard", "--name", f"w{i}",
                     "--local-directory", str(tmp / f"w{i}")],
                    stdout=subprocess.DEVNULL, stderr=open(tmp / f"w{i}.log", "w"),
                    start_new_session=True,
                )
            )  # fmt: skip
        address = __import__("json").loads(info.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=90)
        yield address
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)


@pytest.mark.slow
def test_cg_report_runs_the_smoke_profile_on_a_dask_cluster(cluster, tmp_path):
    from cg.cli import main

    args = ["report", "--profile", "smoke", "--root", str(REPO), "--scheduler", cluster]
    args += ["--out", str(tmp_path / "reports"), "--no-progress"]
    for key in ("cache_dir", "runs_dir", "figures_dir"):
        args += ["-p", f"{key}={tmp_path / key}"]
    assert main(args) == 0
    assert (tmp_path / "reports" / "report.html").is_file()
    runs = sorted((tmp_path / "runs_dir").iterdir())
    seeds = profiles.load_profile("smoke", REPO)["cityscapes"]["n_seeds"]
    every = seeds * sum(len(r) for r in grid.RUNS.values())
    assert len(runs) == every
    starts = {RunDir(r).log_path.read_text().splitlines()[0].split()[-1] for r in runs}
    assert len(starts) == 2, starts  # both workers trained runs
    # the notebooks found every run finished: nothing was trained outside the workers
    for name in grid.RUNS:
        assert "epoch 1/" not in (tmp_path / "reports" / f"{name}.ipynb").read_text()


@pytest.mark.slow
def test_a_dask_worker_killed_mid_run_loses_nothing(cluster, tmp_path, one_thread):
    import threading

    from cg.train.loop import train

    job = _plan(tmp_path, epochs=12).job("adv")
    result: dict = {}
    thread = threading.Thread(
        target=lambda: result.update(
            outcomes=schedule.train_grid([job], scheduler=cluster, progress=False)
        )
    )
    thread.start()
    log = RunDir(job.out).log_path
    _wait_for(lambda: log.is_file() and "epoch 3/12" in log.read_text(), 240, "epoch 3")
    pid = int((job.out / ".lock").read_text())
    os.kill(pid, signal.SIGKILL)  # the worker process itself; its nanny starts a new one
    thread.join(timeout=600)
    assert not thread.is_alive()
    assert [o.status for o in result["outcomes"]] == ["trained"]
    starts = [line for line in log.read_text().splitlines() if line.startswith("--- ")]
    assert len(starts) == 2 and starts[0].split(":")[-1] == str(pid)
    assert len(RunDir(job.out).read_history()) == 12
    alone = tmp_path / "alone"
    train(job.config, alone, progress=False, quiet=True)
    _same_history(job.out, alone)
    _same_weights(job.out, alone)


def test_an_unreachable_scheduler_is_one_line_without_a_traceback(tmp_path, capsys):
    import socket

    from cg.cli import main

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = ["report", "--profile", "smoke", "--root", str(REPO), "--only", "edges2shoes"]
    args += ["--scheduler", f"tcp://127.0.0.1:{port}", "--out", str(tmp_path / "r")]
    for key in ("cache_dir", "runs_dir", "figures_dir"):
        args += ["-p", f"{key}={tmp_path / key}"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot reach the Dask scheduler at tcp://127.0.0.1:{port}")
    assert err.count("\n") == 1 and "Traceback" not in err


# --- seeds ------------------------------------------------------------------------------------


def test_a_block_of_seeds_has_each_seed_s_data_and_every_experiment(tmp_path):
    plan = _plan(tmp_path, seed=7, n_seeds=3)
    assert plan.seeds == (7, 8, 9) and len(plan.jobs) == 3 * len(grid.RUNS["edges2shoes"])
    roots = [d.root for d in plan.data_by_seed]
    assert len(set(roots)) == 3 and plan.data.root == roots[0]  # a data draw per seed
    assert plan.job("adv", 8).config.seed == 8 and plan.job("adv").config.seed == 7
    assert plan.job("adv", 8).config.data == str(Path(roots[1]).resolve())
    with pytest.raises(Exception, match="of seed 10"):
        plan.job("adv", 10)
    with pytest.raises(Exception, match="n_seeds=0"):
        _plan(tmp_path, n_seeds=0)


def test_the_arms_of_one_seed_share_initial_generators_and_batches(tmp_path):
    """Within a seed, with and without the adversarial loss (and cycle-only) start from the
    same generator weights and see the same batches: the comparison is paired by seed."""
    from cg.data import scan_dataset
    from cg.data.loaders import build_pipeline, resolve_config
    from cg.train.epoch import epoch_seed
    from cg.train.state import build_session

    plan = _plan(tmp_path, dataset="cityscapes", seed=11)
    weights, batches = {}, {}
    for job in plan.jobs:
        files = scan_dataset(job.config.data)
        cfg = resolve_config(job.config, files)
        models = build_session(cfg, torch.device("cpu")).models
        weights[job.experiment] = [models.g_ab.state_dict(), models.g_ba.state_dict()]
        pipeline = build_pipeline(cfg, files)
        batches[job.experiment] = [
            next(iter(pipeline.train_loader(e, epoch_seed(cfg.seed, e)))) for e in (1, 2)
        ]
    first = plan.experiments[0]
    for name in plan.experiments[1:]:
        for a, b in zip(weights[first], weights[name]):
            assert all(torch.equal(a[k], b[k]) for k in a), name
        for a, b in zip(batches[first], batches[name]):
            assert all(torch.equal(a[k], b[k]) for k in a), name
    other = _plan(tmp_path, dataset="cityscapes", seed=12).job("noadv")
    files = scan_dataset(other.config.data)
    g = build_session(resolve_config(other.config, files), torch.device("cpu")).models.g_ab
    assert any(not torch.equal(v, weights[first][0][k]) for k, v in g.state_dict().items())
