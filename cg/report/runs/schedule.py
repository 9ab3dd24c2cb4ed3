"""Training the grid's runs side by side (``cg report``): on this machine or a Dask cluster.

Both executors are a :class:`concurrent.futures.Executor`, so one code path,
:func:`train_grid`, submits every unfinished :class:`~cg.report.runs.grid.Job` and collects each
:class:`Outcome` as it arrives:

- **this machine**: ``--workers 1`` trains one run at a time in this process with every thread
  (as a notebook would); more workers are a :class:`~concurrent.futures.ProcessPoolExecutor`
  of that many processes, each with its share of the threads (:func:`default_layout`: the rule
  and the measurements behind it are in ``docs/grid.md``);
- **a Dask cluster** (``--scheduler ADDRESS``): the :class:`distributed.Client`'s executor.
  Each worker needs the repository and the data at the same paths as here. A worker that dies
  mid-run (killed, lost) has its run rescheduled by Dask on another worker, where it resumes
  from its last checkpoint.

A run is trained by :func:`train_job` in its worker: reused when its folder holds it finished,
else trained with ``resume="auto"``, its per-epoch lines appended to ``<run folder>/train.log``.
A failing run is reported with the end of that log, and the others go on. Ctrl-C stops every
run before its next step (:mod:`cg.report.runs.worker`) and ends the local processes; every run
folder keeps its last checkpoint, so the next ``cg report`` resumes.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import queue
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import (
    FIRST_COMPLETED,
    Executor,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from typing import Any

from cg import errors
from cg.errors import UserError
from cg.progress import progress_bar
from cg.report.runs.grid import Job
from cg.report.runs.layout import Layout, default_layout, expected_cost
from cg.report.runs.worker import (
    SIGNALS,
    Outcome,
    init_notes,
    init_worker,
    one_line,
    stop_token,
    tail,
    train_job,
)
from cg.train.loop import run_is_complete
from cg.train.run_dir import RunDir

__all__ = ["GridFailed", "dask_executor", "local_executor", "train_grid"]

#: Seconds a local worker has, after Ctrl-C, to stop its run before it is terminated.
STOP_GRACE = 60.0

#: What :func:`local_executor` and :func:`dask_executor` give: the executor, what stops its
#: runs, and the queue of the workers' notes (None where they cannot send any).
Executing = tuple[Executor, Callable[[], None], Any]

#: Seconds between two looks at the workers' notes while the runs train.
NOTE_POLL = 0.5


class GridFailed(UserError):
    """Some runs of the grid failed: one line per failed run."""

    def __init__(self, failed: Sequence[Outcome]) -> None:
        self.failed = list(failed)
        lines = [
            f"{len(failed)} run(s) failed; the finished runs are kept and the next `cg report` "
            "trains only what is missing:"
        ]
        lines += [f"failed run {o.name}: {o.error}" for o in failed]
        super().__init__("\n".join(lines))


# --- executors ------------------------------------------------------------------------------


@contextlib.contextmanager
def local_executor(layout: Layout, token: str) -> Iterator[Executing]:
    """This machine's executor for ``layout``, what stops its runs, and its workers' notes.

    One worker runs in a thread of this process (a run with every thread, as a notebook
    would train it); more are processes started fresh (``spawn``: no state inherited from
    this process), each with its threads set once, in a session of its own: the terminal's
    Ctrl-C reaches the conductor alone, which stops them (:func:`submit`, :func:`init_worker`).
    """
    if layout.workers == 1 and not layout.devices:
        notes: Any = queue.SimpleQueue()
        pool: Executor = ThreadPoolExecutor(
            1, thread_name_prefix="cg-run", initializer=init_notes, initargs=(notes,)
        )
        try:
            yield pool, lambda: stop_token(token), notes
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return

    ctx = multiprocessing.get_context("spawn")
    devices = None
    if layout.devices:
        devices = ctx.Queue()
        for i in range(layout.workers):
            devices.put(layout.devices[i % len(layout.devices)])
    event = ctx.Event()
    notes = ctx.SimpleQueue()
    procs = ProcessPoolExecutor(
        layout.workers,
        mp_context=ctx,
        initializer=init_worker,
        initargs=(layout.threads, devices, event, notes),
    )

    def stop() -> None:
        """Every run stops before its next step (its folder keeps the last checkpoint) and the
        processes end; one still busy after :data:`STOP_GRACE` seconds, or at a second Ctrl-C,
        is terminated."""
        event.set()
        children = ctx.active_children()
        timer = threading.Timer(STOP_GRACE, _terminate, (children,))
        timer.start()
        try:
            procs.shutdown(wait=True, cancel_futures=True)
        except KeyboardInterrupt:
            _terminate(children)
            raise
        finally:
            timer.cancel()
            for child in children:
                child.join()

    try:
        yield procs, stop, notes
    finally:
        procs.shutdown(wait=True, cancel_futures=True)


def submit(pool: Executor, job: Job, threads: int | None, token: str) -> Future:
    """Hand ``job`` to ``pool``. A local pool starts its processes here: with the terminal's
    signals blocked, a mask they inherit, so that none lands in a worker before it has left
    the terminal's process group; and whole (a signal waits for the end), so that no process
    starts that the pool does not know of."""
    with errors.deferred():
        if threading.current_thread() is threading.main_thread():
            before = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
            try:
                return pool.submit(train_job, job, threads, token)
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, before)
        return pool.submit(train_job, job, threads, token)


def _terminate(children: Sequence[Any]) -> None:
    for child in children:
        child.terminate()


@contextlib.contextmanager
def dask_executor(address: str, token: str, *, timeout: float = 10.0) -> Iterator[Executing]:
    """A Dask cluster's executor (its scheduler at ``address``) and what stops its runs: the
    grid's tasks cancelled, and each worker told to stop this grid's runs before their next
    step (a running task cannot be cancelled from outside its thread)."""
    try:  # imported only here: Dask takes a second to import, and only --scheduler needs it
        from distributed import Client
    except ImportError:
        raise UserError(
            "--scheduler needs Dask distributed; install it with `pip install 'dask[distributed]'`"
        ) from None
    try:
        client = Client(address, timeout=f"{timeout}s", set_as_default=False)
    except (OSError, TimeoutError, ValueError) as e:
        raise UserError(
            f"cannot reach the Dask scheduler at {address} ({one_line(e)}); start one with "
            "`dask scheduler` and its workers with `dask worker ADDRESS`, or leave out "
            "--scheduler to train on this machine"
        ) from None
    pool = client.get_executor(pure=False)

    def stop() -> None:
        pool.shutdown(wait=False)
        with contextlib.suppress(Exception):
            client.run(stop_token, token)

    try:
        yield pool, stop, None
    finally:
        with contextlib.suppress(Exception):
            pool.shutdown(wait=False)
        client.close()


# --- the grid -------------------------------------------------------------------------------


def train_grid(
    jobs: Sequence[Job],
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    threads: int | None = None,
    progress: bool = True,
    out: object = None,
) -> list[Outcome]:
    """Train every job of ``jobs`` that is not finished, side by side; each :class:`Outcome`
    in the jobs' order. Finished runs are reused without a worker.

    ``workers``/``threads``: as many runs at a time, with so many threads each (default:
    :func:`default_layout`); ``scheduler``: a Dask scheduler's address instead of this
    machine. One bar counts the runs done (with the time left), and one line per run goes to
    ``out`` (default: stdout) as it finishes. Raises :class:`GridFailed` naming each failed
    run; Ctrl-C stops every run and raises KeyboardInterrupt.
    """

    stream = out or sys.stdout
    outcomes: dict[str, Outcome] = {}
    todo = []
    for job in {j.out.resolve(): j for j in jobs}.values():  # a run asked twice trains once
        if run_is_complete(job.out, job.config):
            outcomes[job.name] = Outcome(job.name, "reused", 0.0, "here")
        else:
            todo.append(job)
    if not todo:
        print(f"grid: all {len(outcomes)} runs finished already", file=stream, flush=True)
        return [outcomes[j.name] for j in jobs]
    todo.sort(key=expected_cost, reverse=True)  # longest first: the last to end are short
    token = uuid.uuid4().hex
    if scheduler:
        layout = Layout(0, threads, (), f"Dask scheduler {scheduler}")
        executor = dask_executor(scheduler, token)
        where = f"the Dask cluster at {scheduler}"
    else:
        layout = default_layout(todo, workers=workers)
        if threads:
            layout = Layout(layout.workers, threads, layout.devices, "--threads")
        executor = local_executor(layout, token)
        where = f"this machine: {layout.describe()}"
    total = len(outcomes) + len(todo)
    print(f"grid: {len(todo)} of {total} runs to train on {where}", file=stream, flush=True)
    started = time.perf_counter()
    with executor as (pool, stop, notes):
        futures: dict[Future, Job] = {}
        try:
            for job in todo:
                futures[submit(pool, job, layout.threads, token)] = job
            bar = progress_bar(total=len(todo), progress=progress, desc="grid", unit="run")
            with bar:
                pending = set(futures)
                while pending:
                    done, pending = wait(pending, timeout=NOTE_POLL, return_when=FIRST_COMPLETED)
                    for line in _drain(notes):  # e.g. waiting for a run another report trains
                        bar.write(line, file=stream)
                    for future in done:
                        outcome = _outcome(future, futures[future])
                        outcomes[outcome.name] = outcome
                        bar.write(outcome.line(), file=stream)
                        if outcome.log_tail:
                            bar.write(_indent(outcome.log_tail), file=stream)
                        bar.update(1)
        except KeyboardInterrupt:
            stop()
            raise
    failed = [o for o in outcomes.values() if o.status in ("failed", "stopped")]
    trained = sum(o.status == "trained" for o in outcomes.values())
    print(
        f"grid: {trained} trained, {len(outcomes) - trained - len(failed)} reused, "
        f"{len(failed)} failed in {time.perf_counter() - started:.0f} s",
        file=stream,
        flush=True,
    )
    if failed:
        raise GridFailed(failed)
    return [outcomes[j.name] for j in jobs]


def _drain(notes: Any) -> list[str]:
    """The notes the workers sent since the last look."""
    lines: list[str] = []
    while notes is not None and not notes.empty():
        lines.append(notes.get())
    return lines


def _outcome(future: Future, job: Job) -> Outcome:
    """The future's outcome; an error the worker could not report (its process died, the
    task could not be sent) counts as a failed run."""

    try:
        return future.result()
    except Exception as e:
        return Outcome(job.name, "failed", 0.0, "", one_line(e), tail(RunDir(job.out).log_path))


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.rstrip("\n").splitlines())
