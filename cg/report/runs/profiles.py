"""What ``cg report`` runs with: parameter profiles (``params/*.yaml``) and dataset folders.

A profile gives the notebooks' parameters::

    parameters:            # for every notebook (each receives only those it declares)
      image_size: 64
      runs_dir: runs/report    # keys ending in _dir or _root are paths, relative to the root
    notebooks:             # per-notebook values, over the common ones
      architecture: {image_size: 256}
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from cg.catalog import NAMES
from cg.errors import UserError

#: The notebooks in the report's order (figures 1-2, 3-9 and A1, 10-16, 17-20, tables R8).
NOTEBOOKS = ("architecture", "cityscapes", "edges2shoes", "face2simpson", "survey")
#: The notebooks that take a dataset (``data_root``), by dataset name.
DATASETS = NAMES
PROFILES = ("smoke", "default", "long", "gpu", "full")


def load_profile(profile: str, root: str | Path = ".") -> dict[str, dict[str, Any]]:
    """``{notebook: parameters}`` from ``profile`` (a name in ``params/`` or a YAML path).

    Path values (keys ending in ``_dir`` or ``_root``, non-empty) become absolute, relative to
    ``root``.
    """

    root = Path(root)
    path = (
        Path(profile)
        if profile.endswith((".yaml", ".yml"))
        else root / "params" / (profile + ".yaml")
    )
    if not path.is_file():
        raise UserError(
            f"profile {path} does not exist; choose one of {', '.join(PROFILES)} "
            "or give a YAML file"
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise UserError(f"profile {path} is not valid YAML: {e}") from None
    if not isinstance(data, dict) or set(data) - {"parameters", "notebooks"}:
        raise UserError(f"profile {path}: expected the keys 'parameters' and 'notebooks'")
    common = data.get("parameters") or {}
    per = data.get("notebooks") or {}
    unknown = set(per) - set(NOTEBOOKS)
    if unknown:
        raise UserError(
            f"profile {path}: unknown notebook(s) {', '.join(sorted(unknown))}; "
            f"known: {', '.join(NOTEBOOKS)}"
        )
    return {nb: make_absolute({**common, **(per.get(nb) or {})}, root) for nb in NOTEBOOKS}


def make_absolute(params: Mapping[str, Any], root: Path) -> dict[str, Any]:
    out = dict(params)
    for key, value in params.items():
        if key.endswith(("_dir", "_root")) and isinstance(value, str) and value:
            out[key] = str((root / value).resolve())
    return out


def data_roots(data_root: str | Path | None, data: Mapping[str, str] | None) -> dict[str, str]:
    """``{dataset: folder}`` from ``--data-root`` (``DIR/<dataset>``) and ``--data NAME=DIR``."""
    roots: dict[str, str] = {}
    if data_root:
        base = Path(data_root)
        if not base.is_dir():
            raise UserError(f"--data-root {base} is not a folder")
        if (base / "train").is_dir() or (base / "trainA").is_dir():
            raise UserError(
                f"--data-root {base} is itself a dataset; give the folder that holds "
                f"{', '.join(DATASETS)}, or name the dataset: --data cityscapes={base}"
            )
        roots = {n: str((base / n).resolve()) for n in DATASETS if (base / n).is_dir()}
        if not roots:
            raise UserError(f"--data-root {base} holds none of {', '.join(DATASETS)}/")
    for name, folder in (data or {}).items():
        if name not in DATASETS:
            raise UserError(f"--data {name}=...: unknown dataset; known: {', '.join(DATASETS)}")
        if not Path(folder).is_dir():
            raise UserError(f"--data {name}={folder}: not a folder")
        roots[name] = str(Path(folder).resolve())
    return roots
