"""A screenshot of the real demo page: ``python -m cg.demo.screenshot RUN OUT.png``.

Starts ``cg demo RUN`` on a free port of 127.0.0.1, opens it in headless Chromium
(:mod:`cg.demo.browser`), clicks an example, waits for its translations, and writes the whole
page as a PNG (atomically). Refuses to write it when the page asked for anything from another
address. The README's picture, ``docs/images/demo.png``, is made with it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from cg.demo.browser import chromium, requested_urls, served_by, serving
from cg.errors import UserError
from cg.files import atomic_write_bytes


def screenshot(
    run: str | Path, out: str | Path, example: int = 0, width: int = 1400, height: int = 900
) -> Path:
    """Write the page of ``run``, with example number ``example`` (0-based) translated, as a
    PNG ``width`` pixels wide (and as tall as the page) to ``out``."""
    # optional: Selenium comes with the dev extra; chromium() says in one line when it is missing
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="cg-demo-shot-") as tmp:
        env = {"GRADIO_TEMP_DIR": str(Path(tmp) / "gradio")}
        with serving(run, Path(tmp) / "server.log", env) as url:
            driver = chromium(Path(tmp) / "profile", width, height)
            try:
                requested_urls(driver)  # Chromium's own start-up requests
                driver.get(url)
                wait = WebDriverWait(driver, 120, poll_frequency=0.2)
                examples = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".gallery-item"))
                if not 0 <= example < len(examples):
                    raise UserError(
                        f"--example {example}: the page of {run} has {len(examples)} examples "
                        f"(0 to {len(examples) - 1})"
                    )
                examples[example].click()
                wait.until(lambda d: d.find_element(By.ID, "status").text.startswith("translated"))
                wait.until(_outputs_loaded)
                page_height = driver.execute_script("return document.body.scrollHeight")
                driver.set_window_size(width, page_height + 40)
                wait.until(_outputs_loaded)
                png = driver.get_screenshot_as_png()
                elsewhere = [u for u in requested_urls(driver) if not served_by(u, url)]
            finally:
                driver.quit()
    if elsewhere:
        raise UserError(f"the page asked for addresses other than {url}: {elsewhere[:5]}")
    atomic_write_bytes(out, png)
    return out


def _outputs_loaded(driver) -> bool:
    """Every output image of the page is shown (decoded, with its size)."""
    return driver.execute_script(
        "const imgs = document.querySelectorAll('[id^=output-] img');"
        "return imgs.length > 0 && [...imgs].every(i => i.complete && i.naturalWidth > 0);"
    )


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m cg.demo.screenshot",
        description="a screenshot of the cg demo page of a run, with an example translated",
    )
    p.add_argument("run", metavar="RUN", help="a run folder or a cg checkpoint (.pt)")
    p.add_argument("out", metavar="OUT.png", help="the PNG to write")
    p.add_argument("--example", type=int, default=0, help="which example to click (default: 0)")
    p.add_argument("--width", type=int, default=1400, help="page width in pixels (default 1400)")
    args = p.parse_args(argv)
    try:
        written = screenshot(args.run, args.out, args.example, args.width)
    except UserError as e:
        sys.stderr.write(f"error: {e}\n")
        return 2
    print(f"wrote {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
