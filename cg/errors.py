"""How a ``cg`` command ends other than well: a user error, Ctrl-C (SIGINT) or SIGTERM.

A :class:`UserError` names the file or value at fault and says what to do; the ``cg`` command
prints it on one line as ``error: …`` and exits with status 2, without a traceback.

Ctrl-C and SIGTERM are one line too, ``error: interrupted`` with status 130 and ``error:
terminated`` with 143, after every process the command started has stopped and every run folder
keeps its last checkpoint. :func:`handled` installs the handlers for the length of a command
(the ``cg`` entry point does): SIGINT raises :class:`KeyboardInterrupt` and SIGTERM raises
:class:`Terminated`, a subclass of it, so both take the same ways out (each ``finally``, each
``except KeyboardInterrupt`` that stops workers). :func:`received` says which signal ended the
command, for what must act at once instead of politely (a notebook kernel is killed, not asked
to shut down). :func:`deferred` holds a signal back while a few steps that belong together run
(starting a process and noting its id; moving a report's files into place), and raises it at
the end of the block.

This module imports nothing heavy: ``python -m cg`` installs the handlers before its imports.
"""

from __future__ import annotations

import _thread
import atexit
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

__all__ = [
    "STATUS",
    "Terminated",
    "UserError",
    "deferred",
    "ending",
    "exit_status",
    "handled",
    "install",
    "received",
    "report",
]


class UserError(Exception):
    """A problem with the user's input (files, folders, flags, checkpoints), not a bug."""


class Terminated(KeyboardInterrupt):
    """SIGTERM: taken like Ctrl-C, but the command exits with status 143."""


#: Exit status and the word of the one line ``error: …`` for each handled signal.
STATUS = {signal.SIGINT: (130, "interrupted"), signal.SIGTERM: (143, "terminated")}

_received: list[int] = []  # the signals that arrived while the handlers were installed
_deferring = 0  # how many deferred() blocks are open
_pending: list[int] = []  # signals held back by deferred(), raised at its end


def _raise(signum: int) -> None:
    raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def _handler(signum: int, frame: Any) -> None:
    _received.append(signum)
    if _deferring:
        _pending.append(signum)
        return
    _raise(signum)


def _exit_now(signum: int, frame: Any) -> None:
    status, word = STATUS[signal.Signals(signum)]
    os.write(2, f"error: {word}\n".encode())
    os._exit(status)


def received() -> int | None:
    """The first SIGINT or SIGTERM since :func:`handled` installed the handlers, or None."""
    return _received[0] if _received else None


def exit_status(e: KeyboardInterrupt) -> tuple[int, str]:
    """The exit status and the word for the line: 143 "terminated" for :class:`Terminated`,
    130 "interrupted" otherwise."""
    return STATUS[signal.SIGTERM if isinstance(e, Terminated) else signal.SIGINT]


def install() -> None:
    """From now on SIGINT and SIGTERM raise :class:`KeyboardInterrupt` and :class:`Terminated`
    (the first lines of ``python -m cg``, before the imports); and the process, once its
    command has given its status (:func:`ending`), ends with it after the exit functions."""
    for s in STATUS:
        signal.signal(s, _handler)
    atexit.register(_end)  # registered first, so it runs after every other exit function


_status: list[int] = []  # the program's exit status, once its command has ended


def ending(status: int) -> int:
    """Note the exit status of the program's command (and return it). The process then ends
    with it right after the exit functions, without the interpreter's teardown: Python puts
    the signals' default actions back at the start of that teardown, so a SIGTERM landing
    there would end the process with no line and no status of its own."""
    _status[:] = [status]
    return status


def _end() -> None:
    if not _status:  # the command raised: the interpreter ends it as usual
        return
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(_status[0])


@contextlib.contextmanager
def handled(*, program: bool = False) -> Iterator[None]:
    """SIGINT and SIGTERM raise :class:`KeyboardInterrupt` and :class:`Terminated` in the
    block. After it, the previous handlers are put back; or, for the ``program`` (the process
    runs this one command and then ends), a signal while the process ends writes the same line
    and exits at once with the same status. Outside the main thread, where Python cannot set
    handlers, the block runs with the handlers as they are."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = {s: signal.signal(s, _handler) for s in STATUS}
    hook = sys.unraisablehook
    sys.unraisablehook = _unraisable(hook)
    _received.clear()
    try:
        yield
        if _received:  # raised where it was lost (a library caught it and went on)
            _raise(_received[0])
    finally:
        sys.unraisablehook = hook
        for s, h in before.items():
            signal.signal(s, _exit_now if program else h)


def _unraisable(hook: Any) -> Any:
    """``sys.unraisablehook`` for the block of :func:`handled`: a signal's exception raised
    where Python cannot raise one (a finalizer, a weakref callback: it prints "Exception
    ignored" and goes on) is not printed but raised again, from outside (a moment later, by a
    thread, as if the signal came again)."""

    def on_unraisable(unraisable: Any) -> None:
        if isinstance(unraisable.exc_value, KeyboardInterrupt) and _received:
            signum = _received[0]
            threading.Timer(0.01, _thread.interrupt_main, (signum,)).start()
            return
        hook(unraisable)

    return on_unraisable


def report(e: KeyboardInterrupt) -> int:
    """Write the line ``error: interrupted`` (or ``terminated``) for ``e``; its exit status."""
    status, word = exit_status(e)
    os.write(2, f"error: {word}\n".encode())
    return status


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """A signal arriving in the block is raised at its end (the first one, once), so the block
    runs whole. Only for short blocks: a second Ctrl-C waits too."""
    global _deferring
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1
        if not _deferring and _pending:
            signum = _pending[0]
            _pending.clear()
            _raise(signum)
