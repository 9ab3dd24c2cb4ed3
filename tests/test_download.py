"""Downloads and safe extraction against a real HTTP server on 127.0.0.1 (no internet).

The server serves archives built here; variants honour or ignore ``Range``, cut transfers short
and answer slowly, and every ``Range`` header it sees is recorded.
"""

from __future__ import annotations

import hashlib
import io
import re
import stat
import tarfile
import threading
import time
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cg.data import archives
from cg.data.archives import extract_archive, install_archive
from cg.data.download import (
    SOURCES,
    DownloadInterrupted,
    download_dataset,
    download_file,
    resolve_source,
)
from cg.errors import UserError

# --- a local server -------------------------------------------------------------------------


class Server:
    """``files`` at ``http://127.0.0.1:PORT/NAME``; behaviour switched by the attributes."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.ranges = True  # honour Range (206/416) or ignore it (always 200)
        self.cut_after: int | None = None  # send only this many body bytes, then hang up
        self.cuts_left = 0  # how many responses are cut short
        self.delay = 0.0  # seconds before answering
        self.seen_ranges: list[str | None] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server.seen_ranges.append(self.headers.get("Range"))
                time.sleep(server.delay)
                data = server.files.get(self.path.lstrip("/"))
                if data is None:
                    self.send_error(404)
                    return
                start, status = 0, 200
                m = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
                if server.ranges and m:
                    start, status = int(m.group(1)), 206
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                body = data[start:]
                self.send_response(status)
                if status == 206:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if server.cut_after is not None and server.cuts_left > 0:
                    server.cuts_left -= 1
                    body = body[: server.cut_after]
                    self.close_connection = True
                self.wfile.write(body)

        class Quiet(ThreadingHTTPServer):
            def handle_error(self, request: object, client_address: object) -> None:
                pass  # clients that hang up early (timeouts) are part of the tests

        self.httpd = Quiet(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def cut(self, after: int, times: int = 1) -> None:
        self.cut_after, self.cuts_left = after, times


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server()
    thread = threading.Thread(target=srv.httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


# --- archives built here --------------------------------------------------------------------


def jpeg(w: int = 32, h: int = 16, seed: int = 0) -> bytes:
    """A small noisy JPEG (noise keeps the archives a few KB, so transfers can be cut)."""
    pixels = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG")
    return buf.getvalue()


def tar_bytes(entries: list[tarfile.TarInfo | tuple[str, bytes]], mode: str = "w:gz") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tf:
        for e in entries:
            if isinstance(e, tarfile.TarInfo):
                tf.addfile(e)
            else:
                info = tarfile.TarInfo(e[0])
                info.size = len(e[1])
                tf.addfile(info, io.BytesIO(e[1]))
    return buf.getvalue()


def zip_bytes(entries: list[tuple[str | zipfile.ZipInfo, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return buf.getvalue()


def pix2pix_tar() -> bytes:
    return tar_bytes(
        [
            (f"facades/{split}/{i}.jpg", jpeg(64, 32, i))
            for split in ("train", "val")
            for i in (1, 2)
        ]
    )


def unpaired_zip() -> bytes:
    return zip_bytes(
        [
            (f"horse2zebra/{d}/{i}.jpg", jpeg())
            for d in ("trainA", "trainB", "testA", "testB")
            for i in (1, 2)
        ]
    )


def special(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    return info


BAD_TAR = {
    "dotdot": [("../evil.txt", b"x")],
    "dotdot-middle": [("ds/a/../../evil.txt", b"x")],
    "absolute": [("/tmp/evil.txt", b"x")],
    "symlink-out": [special("ds/link", tarfile.SYMTYPE, "../../evil.txt")],
    "symlink-abs": [special("ds/link", tarfile.SYMTYPE, "/etc/passwd")],
    "hardlink-out": [special("ds/hard", tarfile.LNKTYPE, "../evil.txt")],
    "hardlink-abs": [special("ds/hard", tarfile.LNKTYPE, "/etc/passwd")],
    "chardev": [special("ds/dev", tarfile.CHRTYPE)],
    "blockdev": [special("ds/blk", tarfile.BLKTYPE)],
    "fifo": [special("ds/fifo", tarfile.FIFOTYPE)],
}


def unix_entry(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system, info.external_attr = 3, mode << 16
    return info


BAD_ZIP = {
    "dotdot": [("../evil.txt", b"x")],
    "dotdot-backslash": [("ds\\..\\..\\evil.txt", b"x")],
    "absolute": [("/tmp/evil.txt", b"x")],
    "drive": [("C:/evil.txt", b"x")],
    "symlink-out": [(unix_entry("ds/link", stat.S_IFLNK | 0o777), b"../../evil.txt")],
    "symlink-abs": [(unix_entry("ds/link", stat.S_IFLNK | 0o777), b"/etc/passwd")],
    "fifo": [(unix_entry("ds/fifo", stat.S_IFIFO | 0o644), b"")],
    "chardev": [(unix_entry("ds/dev", stat.S_IFCHR | 0o644), b"")],
}


def assert_nothing_installed(root: Path, outside: Path) -> None:
    """No dataset folder, no temporary folder, and nothing named evil anywhere."""
    assert [p.name for p in root.iterdir() if p.is_dir()] == []
    assert not list(outside.rglob("evil*"))


# --- downloads ------------------------------------------------------------------------------


def test_table_covers_both_reference_scripts() -> None:
    pix2pix = {"facades", "cityscapes", "edges2shoes", "edges2handbags", "maps", "night2day"}
    cyclegan = {
        "apple2orange",
        "summer2winter_yosemite",
        "horse2zebra",
        "monet2photo",
        "cezanne2photo",
        "ukiyoe2photo",
        "vangogh2photo",
        "maps",
        "cityscapes",
        "facades",
        "iphone2dslr_flower",
        "ae_photos",
    }
    for name in pix2pix:
        src = resolve_source(name)
        assert src.kind == "pix2pix" and src.url.endswith(f"/pix2pix/datasets/{name}.tar.gz")
        assert resolve_source(f"pix2pix/{name}") is src
    for name in cyclegan:
        src = resolve_source(f"cyclegan/{name}")
        assert src.kind == "cyclegan" and src.url.endswith(f"/cyclegan/datasets/{name}.zip")
    assert resolve_source("horse2zebra").name == "horse2zebra"
    assert resolve_source("maps").kind == "pix2pix" and SOURCES["cyclegan/maps"].kind == "cyclegan"
    with pytest.raises(UserError, match="unknown dataset 'horse2zebr'"):
        resolve_source("horse2zebr")
    with pytest.raises(UserError, match="prepare-cityscapes"):
        download_dataset("cityscapes", "/nonexistent")


def test_pix2pix_tarball_downloads_and_extracts(server: Server, tmp_path: Path) -> None:
    server.files["facades.tar.gz"] = pix2pix_tar()
    root = tmp_path / "root"
    out = download_dataset("facades", root, url=f"{server.url}/facades.tar.gz", progress=False)
    assert out == root / "facades"
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.jpg")) == [
        "train/1.jpg",
        "train/2.jpg",
        "val/1.jpg",
        "val/2.jpg",
    ]
    assert sorted(p.name for p in root.iterdir()) == ["facades"]  # archive and .part gone
    from cg.data import scan_dataset

    assert scan_dataset(out).format == "pix2pix"


def test_unpaired_zip_into_cyclegan_folder(server: Server, tmp_path: Path) -> None:
    server.files["maps.zip"] = unpaired_zip()
    out = download_dataset(
        "cyclegan/maps", tmp_path, url=f"{server.url}/maps.zip", keep_archive=True, progress=False
    )
    assert out == tmp_path / "cyclegan" / "maps"
    assert {p.name for p in out.iterdir()} == {"trainA", "trainB", "testA", "testB"}
    assert (tmp_path / "cyclegan" / "maps.zip").is_file()
    with pytest.raises(UserError, match="already exists.*--overwrite"):
        download_dataset("cyclegan/maps", tmp_path, url=f"{server.url}/maps.zip", progress=False)
    download_dataset(
        "cyclegan/maps", tmp_path, url=f"{server.url}/maps.zip", overwrite=True, progress=False
    )
    assert len(list(out.rglob("*.jpg"))) == 8


def test_truncated_transfer_keeps_part_and_resumes_from_offset(server: Server, tmp_path: Path):
    data = pix2pix_tar()
    server.files["a.tar.gz"] = data
    server.cut(after=1000)
    dest = tmp_path / "a.tar.gz"
    with pytest.raises(DownloadInterrupted, match=f"interrupted at 1,000 of {len(data):,} bytes"):
        download_file(f"{server.url}/a.tar.gz", dest, retries=0, progress=False)
    assert not dest.exists()
    assert (tmp_path / "a.tar.gz.part").read_bytes() == data[:1000]
    download_file(f"{server.url}/a.tar.gz", dest, retries=0, progress=False)
    assert server.seen_ranges == [None, "bytes=1000-"]
    assert dest.read_bytes() == data and not (tmp_path / "a.tar.gz.part").exists()


def test_interrupted_transfer_is_retried_automatically(server: Server, tmp_path, monkeypatch):
    data = bytes(range(256)) * 40
    server.files["f.bin"] = data
    server.cut(after=3000, times=2)
    pauses: list[float] = []
    monkeypatch.setattr("cg.data.download.sleep", pauses.append)
    dest = tmp_path / "f.bin"
    download_file(f"{server.url}/f.bin", dest, retries=2, progress=False)
    assert server.seen_ranges == [None, "bytes=3000-", "bytes=6000-"]
    assert dest.read_bytes() == data and pauses == [1.0, 2.0]


def test_server_ignoring_range_restarts_cleanly(server: Server, tmp_path: Path) -> None:
    data = bytes(range(256)) * 20
    server.files["f.bin"] = data
    server.ranges = False
    (tmp_path / "f.bin.part").write_bytes(b"stale bytes of another file")
    download_file(f"{server.url}/f.bin", tmp_path / "f.bin", progress=False)
    assert server.seen_ranges == ["bytes=27-"]
    assert (tmp_path / "f.bin").read_bytes() == data


def test_416_complete_part_is_finished_and_oversized_part_restarted(server: Server, tmp_path):
    data = b"0123456789" * 50
    server.files["f.bin"] = data
    (tmp_path / "f.bin.part").write_bytes(data)  # complete but never renamed
    download_file(f"{server.url}/f.bin", tmp_path / "f.bin", progress=False)
    assert (tmp_path / "f.bin").read_bytes() == data and server.seen_ranges == ["bytes=500-"]
    (tmp_path / "g.bin.part").write_bytes(data + b"junk")  # longer than the file: stale
    server.files["g.bin"] = data
    download_file(f"{server.url}/g.bin", tmp_path / "g.bin", progress=False)
    assert (tmp_path / "g.bin").read_bytes() == data
    assert server.seen_ranges[1:] == ["bytes=504-", None]


def test_sha256_checked(server: Server, tmp_path: Path) -> None:
    data = pix2pix_tar()
    server.files["facades.tar.gz"] = data
    url = f"{server.url}/facades.tar.gz"
    with pytest.raises(UserError, match="SHA-256 .* does not match"):
        download_dataset("facades", tmp_path, url=url, sha256="0" * 64, progress=False)
    assert list(tmp_path.iterdir()) == []  # no archive, no .part, no folder
    with pytest.raises(UserError, match="64 hexadecimal"):
        download_file(url, tmp_path / "x", sha256="abc", progress=False)
    good = hashlib.sha256(data).hexdigest().upper()
    out = download_dataset("facades", tmp_path, url=url, sha256=good, progress=False)
    assert len(list(out.rglob("*.jpg"))) == 4


def test_http_errors_and_timeouts(server: Server, tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"/nothing.zip: HTTP 404 .*--url"):
        download_file(f"{server.url}/nothing.zip", tmp_path / "n.zip", progress=False)
    with pytest.raises(UserError, match="must start with http"):
        download_file("ftp://example.com/x.zip", tmp_path / "n.zip", progress=False)
    server.files["slow"] = b"x"
    server.delay = 1.0
    with pytest.raises(UserError, match="no answer within 0.2 s"):
        download_file(f"{server.url}/slow", tmp_path / "s", timeout=0.2, retries=0, progress=False)
    assert not (tmp_path / "s").exists()
    with pytest.raises(UserError, match="cannot connect"):
        download_file("http://127.0.0.1:9/x.zip", tmp_path / "c", progress=False)


# --- safe extraction ------------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(BAD_TAR))
def test_unsafe_tar_refused(case: str, tmp_path: Path) -> None:
    entries = [("ds/train/ok.jpg", jpeg()), *BAD_TAR[case]]
    archive = tmp_path / "root" / "bad.tar.gz"
    archive.parent.mkdir()
    archive.write_bytes(tar_bytes(entries))
    name = (
        BAD_TAR[case][0].name
        if isinstance(BAD_TAR[case][0], tarfile.TarInfo)
        else (BAD_TAR[case][0][0])
    )
    with pytest.raises(UserError, match=re.escape(repr(name)) + ".*refused"):
        install_archive(archive, tmp_path / "root" / "bad", progress=False)
    assert_nothing_installed(tmp_path / "root", tmp_path)


@pytest.mark.parametrize("case", sorted(BAD_ZIP))
def test_unsafe_zip_refused(case: str, tmp_path: Path) -> None:
    entries = [("ds/trainA/ok.jpg", jpeg()), *BAD_ZIP[case]]
    archive = tmp_path / "root" / "bad.zip"
    archive.parent.mkdir()
    archive.write_bytes(zip_bytes(entries))
    entry = BAD_ZIP[case][0][0]
    name = entry.filename if isinstance(entry, zipfile.ZipInfo) else entry
    with pytest.raises(UserError, match=re.escape(repr(name)) + ".*(refused|encrypted)"):
        install_archive(archive, tmp_path / "root" / "bad", progress=False)
    assert_nothing_installed(tmp_path / "root", tmp_path)
    assert not (tmp_path / "root" / "ds").exists()  # checked before anything was written


def test_links_inside_the_dataset_are_kept(tmp_path: Path) -> None:
    tar = tmp_path / "ok.tar.bz2"
    tar.write_bytes(
        tar_bytes(
            [
                ("ds/a/1.jpg", jpeg()),
                special("ds/b", tarfile.SYMTYPE, "a"),
                special("ds/c.jpg", tarfile.LNKTYPE, "ds/a/1.jpg"),
            ],
            "w:bz2",
        )
    )
    out = install_archive(tar, tmp_path / "t", progress=False)
    assert (out / "b").is_symlink() and (out / "b" / "1.jpg").is_file()
    assert (out / "c.jpg").read_bytes() == (out / "a" / "1.jpg").read_bytes()
    z = tmp_path / "ok.zip"
    z.write_bytes(
        zip_bytes([("ds/a/1.jpg", jpeg()), (unix_entry("ds/b", stat.S_IFLNK | 0o777), b"a/1.jpg")])
    )
    out = install_archive(z, tmp_path / "z", progress=False)
    assert (out / "b").is_symlink() and (out / "b").read_bytes() == jpeg()


def test_decompression_bomb_refused(tmp_path: Path) -> None:
    zeros = b"\0" * (2 << 20)
    for name, data in (
        ("bomb.zip", zip_bytes([("ds/z.bin", zeros)])),
        ("bomb.tar.xz", tar_bytes([("ds/z.bin", zeros)], "w:xz")),
    ):
        archive = tmp_path / name
        archive.write_bytes(data)
        assert len(data) < 20_000
        with pytest.raises(UserError, match="decompression bomb.*--max-extract-gb"):
            install_archive(archive, tmp_path / "out", max_bytes=1 << 20, progress=False)
        assert not (tmp_path / "out").exists()


def test_flat_archive_and_damaged_archive(tmp_path: Path) -> None:
    flat = tmp_path / "flat.zip"
    flat.write_bytes(
        zip_bytes([("trainA/1.jpg", jpeg()), ("trainB/1.jpg", jpeg()), ("__MACOSX/._x", b"")])
    )
    out = install_archive(flat, tmp_path / "flat", progress=False)
    assert {p.name for p in out.iterdir()} == {"trainA", "trainB", "__MACOSX"}
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(pix2pix_tar()[:300])
    with pytest.raises(UserError, match="junk.tar.gz"):
        install_archive(junk, tmp_path / "junk", progress=False)
    assert not (tmp_path / "junk").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_tar_needs_the_data_filter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(pix2pix_tar())
    monkeypatch.delattr(archives.tarfile, "data_filter")
    with pytest.raises(UserError, match="Python 3.11.4"):
        extract_archive(archive, tmp_path, progress=False)


# --- the command line -----------------------------------------------------------------------


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    from cg.cli import main

    code = main(["data", "download", *args, "--no-progress"])
    return code, capsys.readouterr().err.strip().splitlines()


def test_cli_download_and_errors(server: Server, tmp_path: Path, capsys) -> None:
    server.files["facades.tar.gz"] = pix2pix_tar()
    server.files["evil.tar.gz"] = tar_bytes([("ds/ok.jpg", jpeg()), ("../evil.txt", b"x")])
    server.files["evil.zip"] = zip_bytes([("/evil.txt", b"x")])
    root = str(tmp_path / "root")
    code, err = run_cli(capsys, "facades", "--root", root, "--url", f"{server.url}/facades.tar.gz")
    assert code == 0 and err == []
    failures = {
        "unknown name": ("nosuchset", "--root", root),
        "license": ("cityscapes", "--root", root),
        "exists": ("facades", "--root", root, "--url", f"{server.url}/facades.tar.gz"),
        "404": ("x", "--root", root, "--url", f"{server.url}/missing.tar.gz"),
        "unsafe tar": ("evil", "--root", root, "--url", f"{server.url}/evil.tar.gz"),
        "unsafe zip": ("evilz", "--root", root, "--url", f"{server.url}/evil.zip"),
        "sha256": (
            "f2",
            "--root",
            root,
            "--url",
            f"{server.url}/facades.tar.gz",
            "--sha256",
            "1" * 64,
        ),
        "bad name": ("../up", "--root", root, "--url", f"{server.url}/facades.tar.gz"),
    }
    for what, args in failures.items():
        code, err = run_cli(capsys, *args)
        assert code == 2 and len(err) == 1 and err[0].startswith("error: "), (what, err)
    server.files["cut.tar.gz"] = pix2pix_tar()
    server.cut(after=100)
    code, err = run_cli(
        capsys, "cut", "--root", root, "--url", f"{server.url}/cut.tar.gz", "--retries", "0"
    )
    assert code == 2 and len(err) == 1 and "run the same command again" in err[0]
    code, err = run_cli(capsys, "cut", "--root", root, "--url", f"{server.url}/cut.tar.gz")
    assert code == 0 and server.seen_ranges[-1] == "bytes=100-"
    assert not list(tmp_path.rglob("evil*"))
