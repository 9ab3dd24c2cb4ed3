"""The code's shape, as DESIGN.md sets it: modules of at most 400 lines, and at most ten
top-level modules in cg/ beside its packages."""

from __future__ import annotations

from pathlib import Path

CG = Path(__file__).resolve().parents[1] / "cg"


def test_no_module_is_over_400_lines():
    long = {
        str(p.relative_to(CG)): n
        for p in CG.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400
    }
    assert not long, long


def test_cg_holds_at_most_ten_top_level_modules():
    modules = sorted(
        p.name for p in CG.glob("*.py") if p.name not in ("__init__.py", "__main__.py")
    )
    assert len(modules) <= 10, modules
