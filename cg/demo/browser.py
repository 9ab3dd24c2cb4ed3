"""Headless Chromium for the demo page: its screenshot (:mod:`cg.demo.screenshot`) and tests.

Debian's ``chromium`` and ``chromium-driver`` (``apt-get install chromium chromium-driver``),
driven by Selenium (the ``dev`` extra) through the system chromedriver; nothing is downloaded.
Host names other than the loopback ones resolve to nothing, so a page that would load anything
from elsewhere fails to, and every request the page makes is in Chromium's performance log
(:func:`requested_urls`).
"""

from __future__ import annotations

import json
import shutil
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
    try:
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
