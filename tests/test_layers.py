"""The code's layers, read from its imports: every package imports only from packages below it,
the report's wings one way (notebooks -> page -> findings -> runs), and every name is imported
from the module that defines it (docs/architecture.md draws the layers)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Bottom to top. A module may import from its own layer or below, never above.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("cg", "cg.errors", "cg.files"),
    ("cg.images", "cg.runtime", "cg.checkpoints", "cg.catalog", "cg.progress"),
    ("cg.config", "cg.losses"),
    ("cg.models", "cg.data"),
    ("cg.eval",),
    ("cg.train", "cg.translate"),
    ("cg.export", "cg.survey", "cg.demo"),
    ("cg.report.runs",),
    ("cg.report.findings",),
    ("cg.report.page",),
    ("cg.report", "cg.report.notebooks"),
    ("cg.bench",),
    ("cg.cli", "cg.__main__"),
)


def _layer(module: str) -> int:
    """The layer of ``module``: that of the longest unit in :data:`LAYERS` that holds it."""
    best, found = -1, None
    for i, units in enumerate(LAYERS):
        for unit in units:
            holds = module == unit or module.startswith(unit + ".")
            if holds and len(unit) > best:
                best, found = len(unit), i
    if found is None:
        raise AssertionError(f"{module} is in no layer of tests/test_layers.py: add it")
    return found


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted((ROOT / "cg").rglob("*.py"))}


def _imports(tree: ast.AST) -> list[tuple[int, str, tuple[str, ...]]]:
    """Every import of cg's own modules in ``tree``, wherever it stands: (line, module, names)."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "cg" or node.module.startswith("cg."):
                out.append((node.lineno, node.module, tuple(a.name for a in node.names)))
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("cg."):
                    out.append((node.lineno, a.name, ()))
    return out


def _target(module: str, name: str, modules: dict[str, Path]) -> str:
    """``from module import name``: the submodule when ``name`` is one, else ``module``."""
    return f"{module}.{name}" if f"{module}.{name}" in modules else module


def test_no_import_runs_back_up():
    modules = _modules()
    upward = []
    for name, path in modules.items():
        for line, module, names in _imports(ast.parse(path.read_text())):
            for target in [_target(module, n, modules) for n in names] or [module]:
                if _layer(target) > _layer(name):
                    upward.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert not upward, "imports that run back up:\n" + "\n".join(upward)


def test_the_layer_check_sees_an_upward_import():
    """The rule itself: data importing eval, or findings importing the page, is caught."""
    assert _layer("cg.eval.fid.columns") > _layer("cg.data.loaders")
    assert _layer("cg.report.page.html") > _layer("cg.report.findings.table")
    assert _layer("cg.report.findings.scores") > _layer("cg.report.runs.finished")
    assert _layer("cg.report.notebooks") > _layer("cg.report.page.figures")
    with pytest.raises(AssertionError, match="in no layer"):
        _layer("cg_other.x")


def _defined(tree: ast.Module) -> set[str]:
    """The names a module defines itself at its top level (not those it imports)."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                names.update(n.id for n in ast.walk(t) if isinstance(n, ast.Name))
        elif isinstance(node, (ast.If, ast.Try)):
            names.update(_defined(ast.Module(body=node.body, type_ignores=[])))
    return names


def _notebook_code(path: Path) -> str:
    cells = json.loads(path.read_text())["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


def test_every_name_is_imported_from_the_module_that_defines_it():
    """No re-exports outside a package's own face (its ``__init__``): a reader who follows an
    import finds the definition there, in the library, its tests and the notebooks."""
    modules = _modules()
    defined = {m: _defined(ast.parse(p.read_text())) for m, p in modules.items()}
    sources = [p for p in modules.values()] + sorted((ROOT / "tests").glob("*.py"))
    trees = [(p, ast.parse(p.read_text())) for p in sources]
    trees += [
        (p, ast.parse(_notebook_code(p))) for p in sorted((ROOT / "notebooks").glob("*.ipynb"))
    ]
    elsewhere = []
    for path, tree in trees:
        for line, module, names in _imports(tree):
            if module not in modules or modules[module].name == "__init__.py":
                continue  # a package's face may gather its names
            for n in names:
                if f"{module}.{n}" not in modules and n not in defined[module]:
                    elsewhere.append(f"{path.relative_to(ROOT)}:{line}: {n} from {module}")
    assert not elsewhere, "names imported from a module that does not define them:\n" + "\n".join(
        elsewhere
    )


def test_the_report_wings_re_export_nothing():
    """Each wing's face lists its modules in its docstring and holds no code of its own."""
    for wing in ("runs", "findings", "page"):
        path = ROOT / "cg" / "report" / wing / "__init__.py"
        tree = ast.parse(path.read_text())
        doc = ast.get_docstring(tree) or ""
        assert len(tree.body) == 1 and doc, f"{path}: a docstring only"
        for module in sorted(path.parent.glob("*.py")):
            if module.name != "__init__.py":
                assert f"cg.report.{wing}.{module.stem}`" in doc, f"{path}: lists {module.stem}"
