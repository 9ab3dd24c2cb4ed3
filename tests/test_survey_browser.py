"""The rating page in a real browser: headless Chromium (Debian's ``chromium`` and
``chromium-driver``) driven by Selenium through the system chromedriver; nothing is downloaded.

Without Chromium the test is skipped with a loud reason, except under ``CI=true``, where a
missing browser is a failure (``.ci/run`` installs it).
"""

from __future__ import annotations

import os
import shutil
import threading

import pytest
from PIL import Image

from cg.survey import load_responses
from cg.survey.server import SurveyServer

pytestmark = pytest.mark.browser

MISSING = "SKIPPED: headless Chromium not installed: apt-get install chromium chromium-driver"


def _find(*names: str) -> str | None:
    for name in names:
        if found := shutil.which(name):
            return found
    return None


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    browser = _find("chromium", "chromium-browser")
    chromedriver = _find("chromedriver")  # Debian's chromium-driver: /usr/bin/chromedriver
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        browser = None
    if browser is None or chromedriver is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {MISSING.removeprefix('SKIPPED: ')}")
        pytest.skip(MISSING)
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in (
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", "--no-proxy-server", "--window-size=1000,1200",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):  # fmt: skip
        options.add_argument(flag)
    drv = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
    drv.set_page_load_timeout(30)
    yield drv
    drv.quit()


@pytest.fixture
def served(tmp_path):
    folder = tmp_path / "faces2simpsons"
    folder.mkdir()
    Image.new("RGB", (68, 36), (230, 200, 40)).save(folder / "grid.png")
    (folder / "responses.csv").write_text(
        "survey,rater,mark,comment\nfaces2simpsons,den,6,\nfaces2simpsons,alyona,7,\n",
        encoding="utf-8",
    )
    server = SurveyServer(folder, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server, folder
    server.shutdown()
    server.server_close()


def test_rate_in_the_browser_and_see_the_new_mean(driver, served):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    server, folder = served
    driver.get(server.url)
    assert "Rate the translations: faces2simpsons" in driver.find_element(By.TAG_NAME, "h1").text
    grid = driver.find_element(By.ID, "grid")
    assert driver.execute_script("return arguments[0].naturalWidth", grid) == 68

    # a mark off the 0.25 grid is stopped by the browser: nothing is sent
    driver.find_element(By.ID, "rater").send_keys("<script>x</script>")
    driver.find_element(By.ID, "mark").send_keys("6.3")
    driver.find_element(By.ID, "submit").click()
    assert driver.current_url == server.url
    assert len(load_responses(folder)) == 2

    mark = driver.find_element(By.ID, "mark")
    mark.clear()
    mark.send_keys("8.75")
    driver.find_element(By.ID, "comment").send_keys("жёлтая кожа, глаза как надо")
    driver.find_element(By.ID, "submit").click()
    WebDriverWait(driver, 20).until(ec.url_contains("/results"))

    assert "your rating was stored" in driver.find_element(By.ID, "notice").text
    cells = [td.text for td in driver.find_elements(By.CSS_SELECTOR, "#summary td")]
    assert cells[:3] == ["faces2simpsons", "3", "7.25"]  # (6 + 7 + 8.75) / 3
    ratings = driver.find_element(By.ID, "ratings").text
    assert "<script>x</script>" in ratings  # shown as text, not run
    assert "жёлтая кожа, глаза как надо" in ratings
    assert driver.execute_script("return document.scripts.length") == 0
    df = load_responses(folder)
    assert df.values.tolist()[-1] == [
        "faces2simpsons", "<script>x</script>", 8.75, "жёлтая кожа, глаза как надо",
    ]  # fmt: skip

    # back and forward: the results page is a GET, so a reload never submits again
    driver.refresh()
    assert len(load_responses(folder)) == 3
