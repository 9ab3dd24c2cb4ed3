"""``cg survey serve``: a rating page for one survey folder, on the standard library's server.

Routes (an explicit allowlist; any other path, including ``/../``, ``%2e%2e`` or ``//etc``,
is a 404, so nothing outside the folder, and nothing in it but ``grid.png``, is served):

* ``GET /``: the rating form (grid, rater name, mark 1-10 in steps of 0.25, comment)
* ``GET /grid.png``: ``FOLDER/grid.png``, opened with ``O_NOFOLLOW``
* ``POST /submit``: validate (:mod:`cg.survey.form`), append, then ``303`` to ``/results``
  (POST-redirect-GET: reloading the results never submits twice)
* ``GET /results``: the summary of ``cg survey table`` and every rating, HTML-escaped
  (:mod:`cg.survey.pages`)

A POST is refused (403) unless it carries this server's form token, its ``Origin`` (when
sent) matches its ``Host``, and ``Sec-Fetch-Site`` (when sent) is not cross-site. While bound
to loopback, requests whose ``Host`` is not a loopback name get a 400 (DNS rebinding). The
body must be form-encoded (else 415), declare its length (else 411) and be at most
:data:`~cg.survey.form.MAX_BODY` bytes (else 413, decided from the declared length before the
body is read; a body of up to 1 MiB is then read and dropped, so the client gets the answer).
Submissions are stored by :class:`cg.survey.store.ResponseStore` (``FOLDER/responses.csv``,
survey = the folder's name).
"""

from __future__ import annotations

import ipaddress
import os
import signal
import socket
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from secrets import token_urlsafe
from typing import Any

from cg.errors import UserError
from cg.survey import form, pages
from cg.survey.store import ResponseStore
from cg.survey.table import parse_responses

_HTML = "text/html; charset=utf-8"
_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}
_DRAIN_LIMIT = 1 << 20  # an oversized body up to this size is read and dropped, so the 413 arrives
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # "no-referrer" would make Origin "null"
    "Cache-Control": "no-store",
}


class SurveyServer(ThreadingHTTPServer):
    """Serves one survey folder; handler threads are joined on close so no row is cut off."""

    daemon_threads = False
    block_on_close = True
    request_queue_size = 128

    def __init__(self, folder: str | Path, host: str = "127.0.0.1", port: int = 8765) -> None:
        self.folder = Path(folder).resolve()
        self.survey = self.folder.name
        self.grid = self.folder / "grid.png"
        if not self.folder.is_dir():
            raise UserError(
                f"survey folder {folder} does not exist; make one with `cg survey build`"
            )
        if not self.grid.is_file() or self.grid.is_symlink():
            raise UserError(f"{self.grid} is missing (or a link); make it with `cg survey build`")
        self.store = ResponseStore(self.folder / "responses.csv")
        self.repaired_bytes = self.store.open()
        self.token = token_urlsafe(24)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        self.verbose = False
        self.loopback = _is_loopback(host)
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            super().__init__((host, port), SurveyHandler)
        except OSError as e:
            raise UserError(
                f"cannot listen on {host}:{port}: {e.strerror}; try another --port"
            ) from None

    def process_request(self, request: Any, client_address: Any) -> None:
        # registered before its thread starts: a Ctrl-C between the two still ends it
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def process_request_thread(self, request: socket.socket, client_address: object) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._open_lock:
                self._open.discard(request)

    def server_close(self) -> None:
        """Stop listening, end idle connections (browsers keep spare ones open), and wait for
        the requests in progress: a rating being stored is stored whole or not at all."""
        with self._open_lock:
            for sock in self._open:
                try:
                    sock.shutdown(socket.SHUT_RD)  # a pending read sees the end of the stream
                except OSError:
                    pass
        super().server_close()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{f'[{host}]' if ':' in host else host}:{port}/"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SurveyHandler(BaseHTTPRequestHandler):
    server: SurveyServer
    server_version = "cg-survey"
    timeout = 15  # seconds a client may take to send its request (no stuck threads)

    # --- routing ---------------------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802 - the http.server naming
        route, _, query = self.path.partition("?")
        if not self._host_ok():
            return
        if route == "/":
            self._send(200, pages.rate_page(self.server.survey, self.server.token), _HTML)
        elif route == "/grid.png":
            self._grid()
        elif route == "/results":
            self._results_page(submitted="submitted=1" in query.split("&"))
        elif route == "/submit":
            self._error(
                405, "Method not allowed", "/submit takes the form's POST", {"Allow": "POST"}
            )
        else:
            self._error(404, "Not found", "there is no such page here")

    def do_POST(self) -> None:  # noqa: N802
        if not self._host_ok():
            return
        if self.path.partition("?")[0] != "/submit":
            self._error(404, "Not found", "there is no such page here")
            return
        try:
            self._check_origin()
            rating = form.parse_form(self._read_body(), self.server.token)
            self.server.store.append(self.server.survey, rating.rater, rating.mark, rating.comment)
        except form.SubmissionError as e:
            self._error(e.status, "Not stored", e.message)
            return
        except OSError as e:
            self._error(500, "Not stored", f"the rating could not be saved ({e.strerror or e})")
            return
        self._send(303, b"", "text/plain", {"Location": "/results?submitted=1"})

    # --- checks ----------------------------------------------------------------------------
    def _host_ok(self) -> bool:
        host = self.headers.get("Host")
        if self.server.loopback and host is not None:
            name = urllib.parse.urlsplit("//" + host).hostname
            if name not in _LOOPBACK_NAMES:
                self._error(400, "Bad host", "this server answers to its loopback address only")
                return False
        return True

    def _check_origin(self) -> None:
        origin = self.headers.get("Origin")
        host = (self.headers.get("Host") or "").lower()
        if origin is not None and urllib.parse.urlsplit(origin).netloc.lower() != host:
            raise form.SubmissionError(403, "the form was sent from another site")
        if self.headers.get("Sec-Fetch-Site") in ("cross-site", "same-site"):
            raise form.SubmissionError(403, "the form was sent from another site")

    def _read_body(self) -> bytes:
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/x-www-form-urlencoded":
            raise form.SubmissionError(415, "send the form as application/x-www-form-urlencoded")
        if self.headers.get("Transfer-Encoding") or self.headers.get("Content-Length") is None:
            raise form.SubmissionError(411, "the request must give its Content-Length")
        try:
            length = int(self.headers["Content-Length"])
        except ValueError:
            length = -1
        if length < 0:
            raise form.SubmissionError(400, "the Content-Length is not a number")
        if length > form.MAX_BODY:
            if length <= _DRAIN_LIMIT:  # drop it in chunks, so the client reads our answer
                while length > 0 and (chunk := self.rfile.read(min(length, 65536))):
                    length -= len(chunk)
            else:
                self.close_connection = True
            raise form.SubmissionError(413, f"the form is larger than {form.MAX_BODY} bytes")
        body = self.rfile.read(length)
        if len(body) != length:
            raise form.SubmissionError(400, "the form data ended early")
        return body

    # --- pages -----------------------------------------------------------------------------
    def _grid(self) -> None:
        try:
            fd = os.open(self.server.grid, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            self._error(404, "Not found", "the grid image is missing")
            return
        with os.fdopen(fd, "rb") as f:
            data = f.read()
        self._send(200, data, "image/png")

    def _results_page(self, submitted: bool) -> None:
        try:
            df = parse_responses(self.server.store.read_text(), str(self.server.store.path))
        except UserError as e:
            self._error(500, "Cannot read the responses", str(e))
            return
        self._send(200, pages.results_page(self.server.survey, df, submitted), _HTML)

    # --- output ----------------------------------------------------------------------------
    def _error(self, status: int, heading: str, message: str, headers: dict | None = None) -> None:
        self._send(status, pages.error_page(heading, message), _HTML, headers)

    def _send(self, status: int, body: bytes, ctype: str, headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for key, value in {**_SECURITY_HEADERS, **(headers or {})}.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        if self.server.verbose:
            super().log_message(format, *args)


def serve(
    folder: str | Path, host: str = "127.0.0.1", port: int = 8765, verbose: bool = True
) -> None:
    """Serve ``folder`` until Ctrl-C; prints the URL. Stops cleanly (requests finish first).

    Ctrl-C (SIGINT) is honoured even when the process was started with SIGINT ignored (Python
    then keeps it ignored: a background job of a shell, or a child of a tool that ignores it),
    since it is how this server is stopped."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)
    server = SurveyServer(folder, host, port)
    server.verbose = verbose
    if server.repaired_bytes:
        print(
            f"repaired {server.store.path}: an incomplete last row ({server.repaired_bytes} bytes) "
            f"from an earlier crash was moved to {server.store.quarantine}",
            file=sys.stderr,
        )
    if not server.loopback:
        print(f"warning: listening on {host}, reachable from other machines", file=sys.stderr)
    print(
        f"survey {server.survey!r}: rate at {server.url}  results at {server.url}results",
        flush=True,
    )
    print("press Ctrl-C to stop", flush=True)
    # The loop runs in a thread and this one only waits, so a Ctrl-C lands here, never in the
    # middle of accepting a request (between registering its thread and starting it).
    failed: list[BaseException] = []

    def loop() -> None:
        try:
            server.serve_forever()
        except BaseException as e:  # noqa: BLE001 - raised again in the waiting thread
            failed.append(e)

    thread = threading.Thread(target=loop, name="survey-server", daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(0.5)
    except KeyboardInterrupt:
        print("stopping", flush=True)
    finally:
        server.shutdown()  # the loop ends between requests (at once if it already ended)
        thread.join()
        server.server_close()
    if failed:
        raise failed[0]
