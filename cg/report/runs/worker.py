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
from cg.train.run_dir import RunDir

__all__ = ["LOG_TAIL", "Outcome", "init_worker", "stop_token", "train_job"]

#: The lines of a failed run's log shown with its error.
LOG_TAIL = 15


@dataclass(frozen=True)
class Outcome:
    """What became of one job: ``trained``, ``reused``, ``failed`` or ``stopped``; its wall
    seconds in the worker, where it ran (``host:pid``), and for a failure the error and the end
    of its log."""

    name: str
    status: str
    seconds: float
    where: str = ""
    error: str = ""
    log_tail: str = ""

    def line(self) -> str:
        text = f"{self.status} {self.name} in {self.seconds:.1f} s ({self.where})"
        return text + (f": {self.error}" if self.error else "")


_STOPPED: set[str] = set()  # tokens of the grids told to stop (in each worker process)
_STOP_EVENT: Any = None  # a local pool's shared "stop" (multiprocessing.Event), in its workers


def stop_token(token: str) -> None:
    """Tell the runs of grid ``token`` in this process to stop before their next step."""
    _STOPPED.add(token)


def _stopping(token: str) -> bool:
    return token in _STOPPED or (_STOP_EVENT is not None and _STOP_EVENT.is_set())


def init_worker(threads: int | None, devices: Any, stop: Any) -> None:
    """A local pool process: Ctrl-C is the parent's to handle (it sets ``stop``, which the
    runs read before every step); its threads and, on GPUs, the device it takes."""

    global _STOP_EVENT
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _STOP_EVENT = stop
    if devices is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(devices.get())
    if threads:
        torch.set_num_threads(threads)


def train_job(job: Job, threads: int | None = None, token: str = "") -> Outcome:
    """Train ``job`` (or find it finished) in this worker; never raises for a failed run."""

    where = f"{socket.gethostname()}:{os.getpid()}"
    started = time.perf_counter()

    def took() -> float:
        return time.perf_counter() - started

    if threads:
        torch.set_num_threads(threads)
    log_path = RunDir(job.out).log_path
    try:
        if run_is_complete(job.out, job.config):
            return Outcome(job.name, "reused", took(), where)
        job.out.mkdir(parents=True, exist_ok=True)
        with open(log_path, "a", encoding="utf-8") as log:
            log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} {where}\n")
            log.flush()
            try:
                train(
                    job.config,
                    job.out,
                    resume="auto",
                    progress=False,
                    log=log,
                    stop=lambda: _stopping(token),
                )
            except RunStopped:
                return Outcome(job.name, "stopped", took(), where)
            except Exception as e:  # a failed run is reported, and the grid goes on
                log.write(traceback.format_exc())
                log.flush()
                return Outcome(job.name, "failed", took(), where, one_line(e), tail(log_path))
    except Exception as e:  # before the log could be opened: the folder, the data
        return Outcome(job.name, "failed", took(), where, one_line(e))
    return Outcome(job.name, "trained", took(), where)


def one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def tail(path: os.PathLike | str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-LOG_TAIL:])
    except OSError:
        return ""
