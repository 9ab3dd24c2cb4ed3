"""JupyterLab comes with `make install`, serves the notebooks, and cg's bars are widgets there."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
NOTEBOOKS = {"architecture", "cityscapes", "edges2shoes", "face2simpson", "survey"}
TOKEN = "cg-test-token"


def _jupyter_env(tmp: Path) -> dict[str, str]:
    """Jupyter's runtime, config and settings folders inside ``tmp`` (nothing in ~)."""
    env = dict(os.environ)
    for var, name in (
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTERLAB_SETTINGS_DIR", "settings"),
        ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"),
        ("IPYTHONDIR", "ipython"),
    ):
        env[var] = str(tmp / name)
    env.pop("DISPLAY", None)
    return env


def _server_info(runtime: Path, proc: subprocess.Popen, log: Path, timeout: float = 120) -> dict:
    """The server's runtime file (``jpserver-PID.json``: its real port), once it is serving."""
    deadline = time.monotonic() + timeout
    info_file = runtime / f"jpserver-{proc.pid}.json"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"jupyter lab exited with {proc.returncode}:\n{log.read_text()}")
        if info_file.is_file() and "is running at" in log.read_text():
            return json.loads(info_file.read_text())
        time.sleep(0.25)
    pytest.fail(f"jupyter lab did not start in {timeout} s:\n{log.read_text()}")


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as resp:
        assert resp.status == 200, url
        return resp.read()


def test_make_install_brings_jupyterlab_and_make_lab_opens_the_notebooks():
    assert shutil.which("jupyter-lab", path=str(BIN)), f"no jupyter-lab in {BIN}"
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    dry = subprocess.run(
        [make, "-n", "lab"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    assert ".venv/bin/jupyter lab --notebook-dir=notebooks" in dry.splitlines()


def test_jupyter_lab_serves_the_notebooks_headless(tmp_path):
    env = _jupyter_env(tmp_path)
    log = tmp_path / "server.log"
    argv = [
        str(BIN / "jupyter-lab"),
        "--no-browser",
        "--ip=127.0.0.1",
        "--port=0",  # any free port; the runtime file says which
        f"--IdentityProvider.token={TOKEN}",
        f"--ServerApp.root_dir={REPO}",
        "--allow-root",  # CI runs as root, which Jupyter refuses otherwise
    ]
    with open(log, "w") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        info = _server_info(Path(env["JUPYTER_RUNTIME_DIR"]), proc, log)
        base = f"http://127.0.0.1:{info['port']}"
        listing = json.loads(_get(f"{base}/api/contents/notebooks?token={TOKEN}"))
        names = {c["name"] for c in listing["content"] if c["type"] == "notebook"}
        assert {n + ".ipynb" for n in NOTEBOOKS} <= names
        specs = json.loads(_get(f"{base}/api/kernelspecs?token={TOKEN}"))
        assert "python3" in specs["kernelspecs"]
        # the widget manager is a Lab extension, so tqdm's widget bars render in Lab
        page = _get(f"{base}/lab?token={TOKEN}").decode()
        config = re.search(
            r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
            page,
            re.S,
        )
        assert config, "the Lab page has no jupyter-config-data"
        extensions = {e["name"] for e in json.loads(config.group(1))["federated_extensions"]}
        assert "@jupyter-widgets/jupyterlab-manager" in extensions
        stop = urllib.request.Request(f"{base}/api/shutdown?token={TOKEN}", method="POST")
        urllib.request.urlopen(stop, timeout=30).close()
        assert proc.wait(timeout=60) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)


def test_progress_bars_in_a_notebook_kernel_are_widgets(tmp_path, monkeypatch):
    from jupyter_client.manager import start_new_kernel

    for var, value in _jupyter_env(tmp_path).items():
        monkeypatch.setenv(var, value)
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    km, kc = start_new_kernel(kernel_name="python3")
    try:
        out: list[str] = []

        def hook(msg: dict) -> None:
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                out.append("\n".join(msg["content"]["traceback"]))

        code = (
            "from cg.progress import progress_bar, progress_enabled\n"
            "import tqdm.notebook\n"
            "bar = progress_bar(range(3), desc='x')\n"
            "widget = isinstance(bar, tqdm.notebook.tqdm)\n"
            "print(widget, progress_enabled(), progress_enabled(False))\n"
        )
        kc.execute_interactive(code, output_hook=hook, timeout=120)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    assert "".join(out).split() == ["True", "True", "False"], "".join(out)
