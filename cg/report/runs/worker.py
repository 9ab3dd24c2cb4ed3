"""What a worker of the grid runs: :func:`train_job`, one run trained (or found finished) in
this process, and the stop signals that end a run before its next step.

A local pool's processes start with :func:`init_worker`; a Dask worker imports this module
when its first job arrives.
"""

from __future__ import annotations

import os
import signal
import socket
import time
import traceback
from dataclasses import dataclass
from typing import Any

import torch

from cg.report.runs.grid import Job
from cg.train.epoch import RunStopped
from cg.train.loop import run_is_complete, train
from cg.train.run_dir import RunBusy, RunDir

__all__ = ["LOG_TAIL", "SIGNALS", "Outcome", "init_notes", "init_worker", "stop_token", "train_job"]

#: What the terminal sends that a local worker leaves to the conductor: a worker starts with
#: them blocked (inherited from the conductor, see :mod:`cg.report.runs.schedule`) and, in a
#: session of its own, drops any that arrived before (:func:`init_worker`).
SIGNALS = {signal.SIGINT, signal.SIGTERM}

#: The lines of a failed run's log shown with its error.
LOG_TAIL = 15


@dataclass(frozen=True)
class Outcome:
    """What became of one job: ``trained``, ``reused``, ``failed`` or ``stopped``; its wall
    seconds in the worker, where it ran (``host:pid``), and for a failure the error and the end
    of its log. ``began`` is when the worker took the job (``time.time()``), and ``phases``
    where a trained run's seconds went, summed over the epochs trained here (``steps_s``,
    ``evaluation_s``, ``samples_s``, ``checkpoint_s``, ``epoch_s``: see
    :func:`cg.train.loop.train`'s ``timings``), for the build's profile."""

    name: str
    status: str
    seconds: float
    where: str = ""
    error: str = ""
    log_tail: str = ""
    waited_for: str = ""  # the process that held the run folder while this worker waited
    began: float = 0.0
    phases: tuple[tuple[str, float], ...] = ()

    def line(self) -> str:
        text = f"{self.status} {self.name} in {self.seconds:.1f} s ({self.where})"
        if self.waited_for:
            text += f" after waiting for process {self.waited_for}"
        return text + (f": {self.error}" if self.error else "")


_STOPPED: set[str] = set()  # tokens of the grids told to stop (in each worker process)
_STOP_EVENT: Any = None  # a local pool's shared "stop" (multiprocessing.Event), in its workers
_NOTES: Any = None  # where a worker tells the conductor what it waits for (a queue), if anywhere

#: Seconds between two looks at a run folder that another process is writing.
WAIT_POLL = 0.5


def stop_token(token: str) -> None:
    """Tell the runs of grid ``token`` in this process to stop before their next step."""
    _STOPPED.add(token)


def _stopping(token: str) -> bool:
    return token in _STOPPED or (_STOP_EVENT is not None and _STOP_EVENT.is_set())


def init_notes(notes: Any) -> None:
    """Lines for the conductor (``waiting for NAME (process N)``) go to the queue ``notes``."""
    global _NOTES
    _NOTES = notes


def init_worker(threads: int | None, devices: Any, stop: Any, notes: Any = None) -> None:
    """A local pool process. Ctrl-C and SIGTERM are the conductor's to handle: it sets
    ``stop``, which the runs read before every step, and ends the processes. So the worker
    leaves the terminal's process group for a session of its own; the signals, blocked since
    it started, are ignored while they are unblocked, so one sent to the group before it left
    is dropped; SIGTERM then kills it again (the conductor's last resort). Then its threads,
    on GPUs the device it takes, and the queue for its ``notes``."""

    global _STOP_EVENT
    os.setsid()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _STOP_EVENT = stop
    init_notes(notes)
    if devices is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(devices.get())
    if threads:
        torch.set_num_threads(threads)


def train_job(job: Job, threads: int | None = None, token: str = "") -> Outcome:
    """Train ``job`` (or find it finished) in this worker; never raises for a failed run.

    A run folder that another process is writing (its lock held: another report sharing the
    runs) is waited for, and then reused when that process finished the run, or trained from
    its last checkpoint when it ended (or died) before the end.
    """

    where = f"{socket.gethostname()}:{os.getpid()}"
    began = time.time()
    started = time.perf_counter()
    waited: list[str] = []

    def took() -> float:
        return time.perf_counter() - started

    def waiting(holder: str) -> bool:
        if not waited:
            waited.append(holder)
            _note(f"waiting for {job.name} (process {holder})")
        return not _stopping(token)

    if threads:
        torch.set_num_threads(threads)
    run = RunDir(job.out)
    if _stopping(token):  # a run handed out just before the stop
        return Outcome(job.name, "stopped", took(), where, began=began)
    try:
        if run_is_complete(job.out, job.config):
            return Outcome(job.name, "reused", took(), where, began=began)
        try:
            run.acquire(waiting=waiting, poll=WAIT_POLL)
        except RunBusy:  # told to stop while waiting
            return Outcome(
                job.name, "stopped", took(), where, waited_for=_first(waited), began=began
            )
        try:
            if run_is_complete(job.out, job.config):  # finished by the process waited for
                return Outcome(
                    job.name, "reused", took(), where, waited_for=_first(waited), began=began
                )
            status, error, log_tail, phases = _train(job, run, token, where)
        finally:
            run.release()
    except Exception as e:  # before the log could be opened: the folder, the data
        return Outcome(
            job.name, "failed", took(), where, one_line(e), waited_for=_first(waited), began=began
        )
    waited_for = _first(waited)
    return Outcome(job.name, status, took(), where, error, log_tail, waited_for, began, phases)


def _train(
    job: Job, run: RunDir, token: str, where: str
) -> tuple[str, str, str, tuple[tuple[str, float], ...]]:
    """Train ``job`` into ``run`` (its lock held), its lines per epoch appended to its log:
    the status (``trained``, ``stopped`` or ``failed``), the error and the log's tail of a
    failure, and where the seconds of the epochs trained went (:attr:`Outcome.phases`)."""
    timings: list[dict[str, float]] = []

    def phases() -> tuple[tuple[str, float], ...]:
        keys = [k for k in (timings[0] if timings else {}) if k != "epoch"]
        return tuple((k, float(sum(t[k] for t in timings))) for k in keys)

    with open(run.log_path, "a", encoding="utf-8") as log:
        log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} {where}\n")
        log.flush()
        try:
            train(
                job.config,
                run,
                resume="auto",
                progress=False,
                log=log,
                stop=lambda: _stopping(token),
                timings=timings,
            )
        except RunStopped:
            return ("stopped", "", "", phases())
        except Exception as e:  # a failed run is reported, and the grid goes on
            log.write(traceback.format_exc())
            log.flush()
            return ("failed", one_line(e), tail(run.log_path), phases())
    return ("trained", "", "", phases())


def _first(waited: list[str]) -> str:
    return waited[0] if waited else ""


def _note(line: str) -> None:
    if _NOTES is not None:
        _NOTES.put(line)


def one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def tail(path: os.PathLike | str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-LOG_TAIL:])
    except OSError:
        return ""
