"""Logs a person can read: bars only on a terminal and never with TQDM_DISABLE, one plain line
per epoch otherwise, and ``--quiet`` for only the final summary."""

from __future__ import annotations

import fcntl
import io
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from helpers import TINY, flags

from cg.progress import progress_bar, progress_enabled

CG = [sys.executable, "-m", "cg"]
EPOCHS = 2


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("value", "shown"),
    [(None, True), ("1", False), ("true", False), ("0", True), ("false", True), ("", True)],
)
def test_tqdm_disable_turns_bars_off_even_on_a_terminal(monkeypatch, value, shown):
    monkeypatch.setattr(sys, "stderr", _Terminal())
    if value is None:
        monkeypatch.delenv("TQDM_DISABLE", raising=False)
    else:
        monkeypatch.setenv("TQDM_DISABLE", value)
    assert progress_enabled(True) is shown
    assert progress_enabled(False) is False
    assert progress_bar(range(3), progress=True).disable is not shown


def test_no_bars_when_stderr_is_not_a_terminal(monkeypatch):
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert progress_enabled(True) is False
    monkeypatch.setattr(sys, "stderr", None)  # pythonw, a closed console
    assert progress_enabled(True) is False


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "TQDM_DISABLE"}
    env.update(OMP_NUM_THREADS="1", **extra)
    return env


def _train_argv(data: Path, out: Path, *extra: str) -> list[str]:
    return [*CG, "train", "--data", str(data), "--out", str(out), *flags(TINY), "--epochs",
            str(EPOCHS), *extra]  # fmt: skip


def _epoch_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("epoch ")]


def _final_lines(text: str) -> list[str]:
    return [line.split(":")[0] for line in text.splitlines()]


def test_cg_train_into_a_pipe_logs_one_plain_line_per_epoch(synth, tmp_path):
    data = synth("cityscapes")
    for name, env in (("piped", _env()), ("disabled", _env(TQDM_DISABLE="1"))):
        done = subprocess.run(
            _train_argv(data, tmp_path / name),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stdout
        assert "\r" not in done.stdout, done.stdout
        lines = _epoch_lines(done.stdout)
        assert [line.split(" (")[0] for line in lines] == [
            f"epoch {e}/{EPOCHS}" for e in range(1, EPOCHS + 1)
        ], done.stdout
        assert all("loss_g=" in line for line in lines)

    quiet = subprocess.run(
        _train_argv(data, tmp_path / "quiet", "--quiet"),
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=600,
    )
    assert quiet.returncode == 0, quiet.stdout
    assert _final_lines(quiet.stdout) == ["run folder", "last epoch"], quiet.stdout


def _train_on_a_terminal(argv: list[str], env: dict[str, str]) -> tuple[str, str]:
    """Run with stderr on a pseudo-terminal (stdout piped): (stdout, what the terminal got)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # 100 columns
    try:
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=follower, text=True)
        os.close(follower)
        chunks: list[bytes] = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the process closed its end
                break
            if not chunk:
                break
            chunks.append(chunk)
        out = proc.stdout.read()
        assert proc.wait(timeout=600) == 0, out + b"".join(chunks).decode(errors="replace")
    finally:
        os.close(leader)
    return out, b"".join(chunks).decode(errors="replace")


def test_bars_on_a_terminal_unless_tqdm_disable(synth, tmp_path):
    data = synth("cityscapes")
    out, terminal = _train_on_a_terminal(_train_argv(data, tmp_path / "tty"), _env())
    assert "\r" in terminal and "epoch 1/2" in terminal  # the bar, drawn in place
    assert len(_epoch_lines(out)) == EPOCHS  # the lines, once each
    out, terminal = _train_on_a_terminal(
        _train_argv(data, tmp_path / "off"), _env(TQDM_DISABLE="1")
    )
    assert "\r" not in terminal, terminal
    assert len(_epoch_lines(out)) == EPOCHS


def test_cg_report_quiet_prints_only_the_report_path(tmp_path):
    repo = Path(__file__).resolve().parents[1]
    argv = [*CG, "report", "--profile", "smoke", "--only", "architecture", "--quiet"]
    argv += ["--root", str(repo), "--out", str(tmp_path / "reports")]
    for key in ("cache_dir", "runs_dir", "figures_dir"):
        argv += ["-p", f"{key}={tmp_path / key}"]
    done = subprocess.run(argv, env=_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines() == [f"report: {tmp_path / 'reports' / 'report.html'}"]
    assert "\r" not in done.stdout + done.stderr
