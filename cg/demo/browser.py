"""The demo page driven from outside, for its screenshot (:mod:`cg.demo.screenshot`) and tests:
the real ``cg demo`` in a process of its own (:func:`serving`), and headless Chromium.

Chromium is Debian's ``chromium`` and ``chromium-driver`` (``apt-get install chromium
chromium-driver``), driven by Selenium (the ``dev`` extra) through the system chromedriver;
nothing is downloaded. Host names other than the loopback ones resolve to nothing, so a page
that would load anything from elsewhere fails to, and every request the page makes is in
Chromium's performance log (:func:`requested_urls`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cg.errors import UserError

MISSING = "headless Chromium not installed: apt-get install chromium chromium-driver"


def find_chromium() -> tuple[str, str] | None:
    """``(browser, chromedriver)`` paths, or None when either is missing."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")  # Debian's chromium-driver: /usr/bin/chromedriver
    return (browser, driver) if browser and driver else None


def chromium(profile: Path, width: int = 1280, height: int = 900) -> Any:
    """A headless Chromium (a Selenium ``WebDriver``) with its profile in ``profile``, its
    network requests logged, and every host name but localhost unresolvable. A UserError when
    Chromium or Selenium is missing."""
    found = find_chromium()
    try:  # optional: the dev extra has Selenium; without it, one line says so
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        raise UserError(
            "Selenium is not installed; install it with pip install -e '.[dev]'"
        ) from None
    if found is None:
        raise UserError(MISSING)
    options = webdriver.ChromeOptions()
    options.binary_location = found[0]
    for flag in (
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", "--no-proxy-server", "--hide-scrollbars",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
        f"--window-size={width},{height}", f"--user-data-dir={profile}",
    ):  # fmt: skip
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=found[1]), options=options)
    driver.set_page_load_timeout(60)
    return driver


def requested_urls(driver: Any) -> list[str]:
    """The URLs of every request web pages made since the last call (reading the performance
    log empties it): documents, scripts, styles, fonts, images, fetches, event streams,
    sockets. Chromium's own pages (``chrome://``, such as the new-tab page it opens at start)
    are left out."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message.get("params", {})
        if message.get("method") == "Network.requestWillBeSent":
            if not params.get("documentURL", "").startswith("chrome://"):
                urls.append(params["request"]["url"])
        elif message.get("method") == "Network.webSocketCreated":
            urls.append(params["url"])
    return urls


def served_by(request: str, server: str) -> bool:
    """Whether the request URL ``request`` went to ``server`` (``http://HOST:PORT/``), or
    needed no network at all (``data:``, ``blob:``)."""
    host = server.removeprefix("http://")
    return request.startswith((f"http://{host}", f"ws://{host}", "data:", "blob:"))


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on (now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(
    run: str | Path, log: Path, env: dict[str, str] | None = None, timeout: float = 180
) -> Iterator[str]:
    """``cg demo RUN`` on a free port of 127.0.0.1 in its own process (its output in ``log``,
    ``env`` added to this process's environment), for the block; yields its URL. Stopped at
    the end with SIGTERM (as Ctrl-C); a UserError, with the end of its output, when it does not
    start within ``timeout`` seconds or does not end cleanly."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cg", "demo", str(run), "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )

    def tail() -> str:
        return log.read_text(errors="replace")[-2000:]

    try:
        deadline = time.monotonic() + timeout
        while f"cg demo: {url}" not in log.read_text(errors="replace"):
            if proc.poll() is not None:
                raise UserError(f"cg demo {run} stopped at start:\n{tail()}")
            if time.monotonic() > deadline:
                raise UserError(f"cg demo {run} did not start in {timeout:.0f} s:\n{tail()}")
            time.sleep(0.5)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.returncode != 0:
        raise UserError(f"cg demo {run} ended with status {proc.returncode}:\n{tail()}")
