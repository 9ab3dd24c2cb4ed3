"""Append-only storage of survey responses that loses nothing and never keeps half a row.

Rows go to ``responses.csv`` (the columns of :data:`cg.survey.table.COLUMNS`), written by
:func:`csv.writer` with ``\\n`` line ends. Safety comes from four rules:

1. **One row, one write.** A row is encoded in full first, then written with a single
   ``os.write`` on a file descriptor opened with ``O_APPEND`` and ``fsync``'ed before the
   submission is acknowledged. A short write is undone (``ftruncate`` to the size before it).
2. **One writer at a time.** Appends hold a :class:`threading.Lock` (threads of this server)
   and an exclusive ``fcntl.flock`` on the file (other processes, e.g. a second server on the
   same folder); reads hold the thread lock and a shared ``flock``, so a reader never sees a
   row being written.
3. **Crash leftovers are repaired, not built upon.** A crash (power loss, SIGKILL) can leave a
   prefix of the last row. Since :func:`csv.writer` quotes every field holding ``"`` or a line
   break, a byte offset is the end of a complete row exactly when it follows a ``\\n`` with an
   even number of ``"`` before it. :meth:`ResponseStore.open` (at server start) scans the file;
   anything after the last complete row is appended to ``responses.csv.partial`` (kept for
   inspection, never lost) and cut from the CSV. Each append checks the last byte too and
   repairs the same way if another process died mid-row.
4. **The header is written atomically** when the file is created: a complete temporary file
   is hard-linked into place, which fails (harmlessly) if another process created it first, so
   an existing file is never replaced.
"""

from __future__ import annotations

import csv
import fcntl
import io
import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cg.errors import UserError
from cg.survey.table import COLUMNS

HEADER = ",".join(COLUMNS) + "\n"


def encode_row(survey: str, rater: str, mark: str, comment: str) -> bytes:
    """One CSV row, ``\\n``-terminated, UTF-8 (fields quoted as :func:`csv.writer` needs)."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([survey, rater, mark, comment])
    return buf.getvalue().encode("utf-8")


def complete_length(data: bytes) -> int:
    """Length of the longest prefix of ``data`` made of complete CSV rows (see rule 3)."""
    end, quotes = 0, 0
    for i, byte in enumerate(data):
        if byte == 0x22:  # '"'
            quotes += 1
        elif byte == 0x0A and quotes % 2 == 0:  # '\n' outside quotes
            end = i + 1
    return end


class ResponseStore:
    """The responses file of one survey; safe for many threads and processes at once."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.quarantine = self.path.with_name(self.path.name + ".partial")
        self._lock = threading.Lock()

    def open(self) -> int:
        """Create the file with its header if needed, check the header, repair a partial last
        row. Returns the number of bytes moved to the quarantine file (0 when none)."""
        if not self.path.exists():
            self._create()
        with self._locked(fcntl.LOCK_EX, os.O_RDWR) as fd:
            if os.fstat(fd).st_size == 0:  # e.g. made by `touch`
                os.pwrite(fd, HEADER.encode(), 0)
                os.fsync(fd)
            first = os.pread(fd, len(HEADER) + 1, 0)
            if first == HEADER.encode()[:-1]:  # a hand-made file without the final newline
                os.pwrite(fd, b"\n", len(first))
                first += b"\n"
            if first[: len(HEADER)] != HEADER.encode():
                raise UserError(
                    f"{self.path} does not start with the header {HEADER.strip()}; "
                    "move it away to start a new survey there"
                )
            return self._repair(fd)

    def append(self, survey: str, rater: str, mark: str, comment: str) -> None:
        """Append one row durably (see the module docstring); raises OSError on failure, in
        which case nothing was kept."""
        row = encode_row(survey, rater, mark, comment)
        with self._locked(fcntl.LOCK_EX, os.O_RDWR | os.O_APPEND) as fd:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                self._repair(fd)
                size = os.fstat(fd).st_size
            try:
                written = os.write(fd, row)
                if written != len(row):
                    raise OSError(f"short write to {self.path} ({written} of {len(row)} bytes)")
                os.fsync(fd)
            except BaseException:
                os.ftruncate(fd, size)
                raise

    def read_text(self) -> str:
        """The whole file as text, read while no row is being written."""
        with self._locked(fcntl.LOCK_SH, os.O_RDONLY) as fd:
            chunks = []
            while chunk := os.read(fd, 1 << 20):
                chunks.append(chunk)
        return b"".join(chunks).decode("utf-8-sig")

    def _create(self) -> None:
        """Create the file holding just the header, atomically, unless it exists by now."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            os.write(fd, HEADER.encode())
            os.fchmod(fd, 0o644)
            os.fsync(fd)
            os.link(tmp, self.path)
        except FileExistsError:
            pass
        finally:
            os.close(fd)
            os.unlink(tmp)

    @contextmanager
    def _locked(self, mode: int, flags: int) -> Iterator[int]:
        with self._lock:
            fd = os.open(self.path, flags)
            try:
                fcntl.flock(fd, mode)
                yield fd
            finally:
                os.close(fd)  # closing releases the flock

    def _repair(self, fd: int) -> int:
        """Move bytes after the last complete row to the quarantine file; caller holds the
        exclusive lock. Returns how many bytes were moved."""
        size = os.fstat(fd).st_size
        data = os.pread(fd, size, 0)
        keep = complete_length(data)
        if keep == size:
            return 0
        tail = data[keep:]
        qfd = os.open(self.quarantine, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(qfd, tail + b"\n")
            os.fsync(qfd)
        finally:
            os.close(qfd)
        os.ftruncate(fd, keep)
        os.fsync(fd)
        return len(tail)
