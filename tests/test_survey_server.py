"""`cg survey serve`: a real server on 127.0.0.1 — concurrency, validation, escaping, routes,
crash leftovers, clean shutdown."""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image

from cg.errors import UserError
from cg.survey import load_responses
from cg.survey.server import SurveyServer
from cg.survey.store import ResponseStore, complete_length, encode_row

HEADER = b"survey,rater,mark,comment\n"


def make_folder(root: Path, name: str = "demo") -> Path:
    folder = root / name
    folder.mkdir()
    Image.new("RGB", (68, 36), (230, 200, 40)).save(folder / "grid.png")
    return folder


class Client:
    """A tiny HTTP client for one running server (one connection per request)."""

    def __init__(self, server: SurveyServer) -> None:
        self.host, self.port = server.server_address[:2]
        self.origin = f"http://{self.host}:{self.port}"
        self.token = server.token

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict | None = None
    ) -> tuple[int, dict, str]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read().decode("utf-8", "replace")
        finally:
            conn.close()

    def submit(
        self, rater: str, mark: str, comment: str = "", **extra: str
    ) -> tuple[int, dict, str]:
        fields = {"token": self.token, "rater": rater, "mark": mark, "comment": comment, **extra}
        return self.post(urllib.parse.urlencode(fields).encode())

    def post(self, body: bytes, headers: dict | None = None) -> tuple[int, dict, str]:
        h = {"Content-Type": "application/x-www-form-urlencoded", "Origin": self.origin}
        return self.request("POST", "/submit", body, {**h, **(headers or {})})


@pytest.fixture
def served(tmp_path):
    """A running server on an ephemeral loopback port: (server, client, folder)."""
    folder = make_folder(tmp_path)
    server = SurveyServer(folder, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server, Client(server), folder
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def test_pages_and_a_submission_round_trip(served):
    server, client, folder = served
    status, headers, page = client.request("GET", "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert 'type="number" min="1" max="10" step="0.25"' in page and 'src="/grid.png"' in page
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    status, headers, _ = client.request("GET", "/grid.png")
    assert status == 200 and headers["Content-Type"] == "image/png"
    status, headers, body = client.submit("den", "6.50", 'норм, "вполне"')
    assert status == 303 and headers["Location"] == "/results?submitted=1" and body == ""
    status, _, results = client.request("GET", "/results?submitted=1")
    assert status == 200 and "your rating was stored" in results
    assert '<td class="num">6.50</td>' in results  # the mean, as `cg survey table` formats it
    df = load_responses(folder / "responses.csv")
    assert df.values.tolist() == [["demo", "den", 6.5, 'норм, "вполне"']]


def test_concurrent_submissions_are_all_stored_exactly_once(served):
    server, client, folder = served
    n = 300
    marks = [f"{1 + (i % 37) * 0.25:g}" for i in range(n)]
    comments = [f'строка {i}, "quoted"\nsecond line' if i % 3 == 0 else "" for i in range(n)]

    def one(i: int) -> int:
        return client.submit(f"rater{i:03d}", marks[i], comments[i])[0]

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=32) as pool:
        statuses = list(pool.map(one, range(n)))
    seconds = time.perf_counter() - start
    print(f"\n{n} concurrent submissions (32 clients): {seconds:.2f} s, {n / seconds:.0f}/s")
    assert statuses == [303] * n
    df = load_responses(folder / "responses.csv")
    assert len(df) == n and df["rater"].is_unique
    got = {r.rater: (r.mark, r.comment) for r in df.itertuples()}
    assert got == {f"rater{i:03d}": (float(marks[i]), comments[i]) for i in range(n)}
    status, _, results = client.request("GET", "/results")
    mean = sum(float(m) for m in marks) / n
    assert status == 200 and f'<td class="num">{n}</td><td class="num">{mean:.2f}</td>' in results


def test_appends_from_several_processes_interleave_whole_rows(tmp_path):
    path = tmp_path / "responses.csv"
    ResponseStore(path).open()
    script = (
        "import sys; from cg.survey.store import ResponseStore\n"
        "s = ResponseStore(sys.argv[1])\n"
        "for i in range(50): s.append('p', f'w{sys.argv[2]}-{i}', '5', 'x,' * 200)\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, str(path), str(k)]) for k in range(4)]
    assert [p.wait(timeout=120) for p in procs] == [0] * 4
    df = load_responses(path)
    assert len(df) == 200 and df["rater"].is_unique and (df["comment"] == "x," * 200).all()


BAD_FIELDS = [
    ({"mark": "11"}, 400, "outside 1..10"),
    ({"mark": "0.75"}, 400, "outside 1..10"),
    ({"mark": "-5"}, 400, "not a number"),
    ({"mark": "6.3"}, 400, "not a multiple of 0.25"),
    ({"mark": "6.125"}, 400, "not a multiple of 0.25"),
    ({"mark": "seven"}, 400, "not a number"),
    ({"mark": "nan"}, 400, "not a number"),
    ({"mark": "inf"}, 400, "not a number"),
    ({"mark": "1e1"}, 400, "not a number"),
    ({"mark": "6,5"}, 400, "not a number"),
    ({"mark": ""}, 400, "not a number"),
    ({"rater": ""}, 400, "name is empty"),
    ({"rater": " \t "}, 400, "name is empty"),
    ({"rater": "x" * 65}, 400, "at most 64"),
    ({"rater": "a\x00b"}, 400, "control character U+0000"),
    ({"rater": "a\nb"}, 400, "control character U+000A"),
    ({"rater": "evil\u202eil"}, 400, "control character U+202E"),
    ({"comment": "x" * 2001}, 400, "at most 2000"),
    ({"comment": "bell\x07"}, 400, "control character U+0007"),
    ({"token": "forged"}, 403, "expired"),
    ({"extra": "1"}, 400, "unexpected form field"),
]


def test_every_bad_submission_is_rejected_and_nothing_stored(served):
    server, client, folder = served
    csv = folder / "responses.csv"
    before = csv.read_bytes()
    ok = {"token": client.token, "rater": "ann", "mark": "7", "comment": ""}
    for change, status, message in BAD_FIELDS:
        body = urllib.parse.urlencode({**ok, **change}).encode()
        got, _, page = client.post(body)
        assert (got, message) == (status, message) and message in page, change
    form = urllib.parse.urlencode(ok).encode()
    raw = [
        (form, {"Origin": "http://evil.example"}, 403, "another site"),
        (form, {"Origin": "null"}, 403, "another site"),
        (form, {"Sec-Fetch-Site": "cross-site"}, 403, "another site"),
        (form, {"Content-Type": "application/json"}, 415, "x-www-form-urlencoded"),
        (form, {"Content-Type": "multipart/form-data; boundary=x"}, 415, "urlencoded"),
        (form + b"&mark=8", {}, 400, "given twice"),
        (b"token=" + client.token.encode() + b"&rater=%FF&mark=7", {}, 400, "UTF-8"),
        (b"rater=ann&mark=7", {}, 403, "expired"),
        (form + b"&comment2=" + b"x" * 40_000, {}, 413, "larger than"),
        (form, {"Host": "evil.example"}, 400, "loopback"),
    ]
    for body, headers, status, message in raw:
        got, _, page = client.post(body, headers)
        assert (got, message) == (status, message) and message in page, headers
    # a declared huge body is refused before it is read
    got, _, page = client.request(
        "POST",
        "/submit",
        None,
        {"Content-Type": "application/x-www-form-urlencoded", "Content-Length": str(10**9)},
    )
    assert got == 413
    # no Content-Length (chunked) -> 411
    got, _, _ = client.request(
        "POST",
        "/submit",
        iter([form]),
        {"Content-Type": "application/x-www-form-urlencoded", "Transfer-Encoding": "chunked"},
    )
    assert got == 411
    assert client.request("GET", "/submit")[0] == 405
    assert client.request("POST", "/results", form)[0] == 404
    assert csv.read_bytes() == before == HEADER


def test_everything_echoed_is_escaped(served):
    server, client, folder = served
    name, comment = "<script>alert(1)</script>", '"><img src=x onerror=alert(2)>'
    assert client.submit(name, "5", comment)[0] == 303
    assert client.submit("formula", "6", '=HYPERLINK("http://x")')[0] == 303
    _, _, page = client.request("GET", "/results")
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&quot;&gt;&lt;img src=x onerror=alert(2)&gt;" in page
    assert "=HYPERLINK(&quot;http://x&quot;)" in page
    # stored verbatim (the CSV is data; see cg.survey.table)
    df = load_responses(folder / "responses.csv")
    assert df["rater"].tolist()[0] == name and df["comment"].tolist()[1].startswith("=HYPER")
    # error pages echo the bad value escaped too
    status, _, page = client.submit("ann", "<b>7</b>")
    assert status == 400 and "&#x27;&lt;b&gt;7&lt;/b&gt;&#x27;" in page and "<b>7" not in page


@pytest.mark.parametrize(
    "path",
    [
        "/../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/..%2f..%2fetc%2fpasswd",
        "//etc/passwd",
        "/%2fetc%2fpasswd",
        "/responses.csv",
        "/manifest.json",
        "/grid.png/..",
        "/./grid.png",
        "/GRID.PNG",
        "/results/",
        "/index.html",
        "/grid.png%00",
        "http://127.0.0.1/etc/passwd",
    ],
)
def test_only_the_allowlisted_routes_are_served(served, path):
    server, client, folder = served
    (folder / "manifest.json").write_text("{}")
    with socket.create_connection((client.host, client.port), timeout=10) as s:
        s.sendall(f"GET {path} HTTP/1.0\r\nHost: {client.host}:{client.port}\r\n\r\n".encode())
        reply = b"".join(iter(lambda: s.recv(65536), b""))
    assert reply.startswith(b"HTTP/1.0 404 "), reply[:80]


def test_grid_is_never_followed_through_a_link(tmp_path):
    folder = make_folder(tmp_path)
    (folder / "grid.png").unlink()
    (folder / "grid.png").symlink_to(tmp_path / "elsewhere.png")
    Image.new("RGB", (4, 4)).save(tmp_path / "elsewhere.png")
    with pytest.raises(UserError, match="grid.png is missing"):
        SurveyServer(folder, "127.0.0.1", 0)


def test_complete_length_finds_the_last_whole_row():
    rows = [HEADER, encode_row("s", "a", "5", "x"), encode_row("s", "b", "6", 'q"\nline, "x"')]
    data = b"".join(rows)
    bounds = [sum(len(r) for r in rows[: k + 1]) for k in range(len(rows))]
    for cut in range(len(data) + 1):  # every prefix a crash could leave
        expected = max([b for b in bounds if b <= cut], default=0)
        assert complete_length(data[:cut]) == expected, cut


def test_a_crash_leftover_is_quarantined_on_start(tmp_path):
    folder = make_folder(tmp_path)
    whole = HEADER + encode_row("demo", "bob", "7", "ok")
    partial = encode_row("demo", "eve", "3", "line one\nline two")[:-12]  # ends inside quotes
    (folder / "responses.csv").write_bytes(whole + partial)
    server = SurveyServer(folder, "127.0.0.1", 0)
    server.server_close()
    assert server.repaired_bytes == len(partial)
    assert (folder / "responses.csv").read_bytes() == whole
    assert (folder / "responses.csv.partial").read_bytes() == partial + b"\n"
    # a torn row that happens to end with a newline inside its quoted comment
    torn = encode_row("demo", "eve", "3", "line one\nline two")
    torn = torn[: torn.index(b"\n") + 1]
    (folder / "responses.csv").write_bytes(whole + torn)
    assert ResponseStore(folder / "responses.csv").open() == len(torn)
    assert load_responses(folder)["rater"].tolist() == ["bob"]


def test_a_partial_row_from_another_process_is_repaired_before_appending(served):
    server, client, folder = served
    assert client.submit("ann", "7")[0] == 303
    with open(folder / "responses.csv", "ab") as f:
        f.write(b'demo,ghost,5,"half a comm')  # another process died mid-row
    assert client.submit("bob", "8", "after the crash")[0] == 303
    df = load_responses(folder)
    assert df["rater"].tolist() == ["ann", "bob"] and df["comment"].tolist()[1] == "after the crash"
    assert (folder / "responses.csv.partial").read_bytes() == b'demo,ghost,5,"half a comm\n'


def test_a_failed_write_leaves_no_half_row(tmp_path, monkeypatch):
    store = ResponseStore(tmp_path / "responses.csv")
    store.open()
    store.append("s", "ann", "7", "")
    before = store.path.read_bytes()
    real_write = os.write

    def half_then_fail(fd: int, data: bytes) -> int:
        real_write(fd, data[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("cg.survey.store.os.write", half_then_fail)
    with pytest.raises(OSError):
        store.append("s", "bob", "8", "a long comment " * 10)
    assert store.path.read_bytes() == before


def test_an_empty_or_unterminated_header_file_is_completed(tmp_path):
    for content in (b"", HEADER[:-1]):
        path = tmp_path / "responses.csv"
        path.write_bytes(content)
        store = ResponseStore(path)
        assert store.open() == 0
        store.append("s", "ann", "7", "")
        assert path.read_bytes() == HEADER + b"s,ann,7,\n"


def test_start_errors(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        SurveyServer(tmp_path / "none", "127.0.0.1", 0)
    folder = make_folder(tmp_path)
    (folder / "responses.csv").write_text("name,score\nx,1\n")
    with pytest.raises(UserError, match="does not start with the header"):
        SurveyServer(folder, "127.0.0.1", 0)
    (folder / "responses.csv").unlink()
    first = SurveyServer(folder, "127.0.0.1", 0)
    try:
        with pytest.raises(UserError, match="cannot listen on 127.0.0.1"):
            SurveyServer(folder, "127.0.0.1", first.server_address[1])
    finally:
        first.server_close()


@pytest.mark.parametrize("inherited", ["default", "ignored"])
def test_cli_serve_prints_the_url_and_stops_cleanly_on_ctrl_c(tmp_path, inherited):
    """Also when started with SIGINT ignored (as a shell's background job is)."""
    folder = make_folder(tmp_path)

    def start() -> None:
        if inherited == "ignored":
            signal.signal(signal.SIGINT, signal.SIG_IGN)

    proc = subprocess.Popen(
        [sys.executable, "-m", "cg", "survey", "serve", str(folder), "--port", "0", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=start,
    )
    try:
        line = proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert url, line
        conn = http.client.HTTPConnection("127.0.0.1", int(url.group(1)), timeout=10)
        conn.request("GET", "/results")
        assert conn.getresponse().status == 200
        conn.close()
        idle = socket.create_connection(("127.0.0.1", int(url.group(1))))  # sends nothing
        start = time.perf_counter()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        assert time.perf_counter() - start < 5  # an idle connection does not hold it up
        idle.close()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "stopping" in out and "Traceback" not in err
