"""``history.csv``: one row per epoch, fixed leading columns, empty cells where a mode has none.

Floats are written with ``repr`` so they read back exactly.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

from cg.checkpoints import atomic_write_text
from cg.errors import UserError

HISTORY_COLUMNS: tuple[str, ...] = (
    "epoch",
    "seconds",
    "lr",
    "loss_g",
    "loss_d",
    "loss_cycle",
    "loss_identity",
    "loss_adv",
    "pixel_error_ab_val",
    "pixel_error_ba_val",
    "feedback_ab_train",
    "feedback_ab_val",
    "feedback_ba_train",
    "feedback_ba_val",
    "identity_ab_val",
    "identity_ba_val",
)


def _cell(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float):
        return repr(v)
    return str(v)


def write_history(path: str | Path, rows: list[dict[str, Any]]) -> None:
    """Write rows atomically; columns: :data:`HISTORY_COLUMNS`, then any others, sorted."""
    extra = sorted({k for r in rows for k in r} - set(HISTORY_COLUMNS))
    columns = list(HISTORY_COLUMNS) + extra
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow([_cell(r.get(c)) for c in columns])
    atomic_write_text(path, buf.getvalue())


def read_history(path: str | Path) -> list[dict[str, Any]]:
    """Read a history written by :func:`write_history` (empty cells -> None)."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            rows = []
            for r in reader:
                row: dict[str, Any] = {}
                for k, v in r.items():
                    if v == "" or v is None:
                        row[k] = None
                    elif k == "epoch":
                        row[k] = int(v)
                    else:
                        row[k] = float(v)
                rows.append(row)
            return rows
    except (OSError, ValueError, csv.Error) as e:
        raise UserError(f"cannot read history {path}: {e}") from None
