"""``cg data check DIR``: what a dataset folder holds, and which of its files cannot be used.

Reads headers only (see :func:`cg.data.formats.inspect_images`), so a large dataset is checked
in seconds: its layout, the count per split, the most common image sizes, unreadable or
truncated files and pix2pix files whose width cannot be split into two equal halves.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from cg.data.formats import DatasetFiles, inspect_images, scan_dataset
from cg.data.synthetic import MARKER, read_note

_SHOWN_SIZES = 5


@dataclass
class CheckReport:
    """The result of :func:`check_dataset`."""

    files: DatasetFiles
    splits: list[tuple[str, int]]  # (folder name, number of files), in layout order
    sizes: Counter = field(default_factory=Counter)  # (width, height) -> number of files
    problems: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(n for _, n in self.splits)

    def lines(self) -> list[str]:
        """The report as printed by ``cg data check``."""
        f = self.files
        kind = "A|B pairs side by side" if f.paired else "one folder per domain"
        out = [f"{f.root}: {f.format} format ({kind})"]
        unit = "pairs" if f.paired else "images"
        out += [f"  {name + '/':<8} {n:>7} {unit}" for name, n in self.splits]
        readable = sum(self.sizes.values())
        if readable:
            common = ", ".join(
                f"{w}x{h} ({n})" for (w, h), n in self.sizes.most_common(_SHOWN_SIZES)
            )
            more = len(self.sizes) - _SHOWN_SIZES
            out.append(f"sizes (width x height): {common}" + (f", {more} more" if more > 0 else ""))
        if self.problems:
            out.append(f"{len(self.problems)} file(s) cannot be used:")
            out += [f"  {_rel(p, f.root)}: {reason}" for p, reason in self.problems]
        else:
            out.append("no problems found")
        return out


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _folder(files: list[Path], root: Path) -> str:
    return files[0].relative_to(root).parts[0]


def check_dataset(root: str | Path) -> CheckReport:
    """Scan ``root`` (:func:`scan_dataset`) and inspect every file's header."""
    files = scan_dataset(root)
    if files.paired:
        groups = [files.train_a, files.val_a]
    else:
        groups = [files.train_a, files.train_b, files.val_a, files.val_b]
    report = CheckReport(files, [(_folder(g, files.root), len(g)) for g in groups])
    note = read_note(files.root)
    if note is not None and not note.get("complete", True):
        report.problems.append(
            (files.root / MARKER, "`cg synth` stopped before writing every image; run it again")
        )
    for group in groups:
        for path, (size, reason) in zip(group, inspect_images(group, pairs=files.paired)):
            if size is not None:
                report.sizes[size] += 1
            if reason is not None:
                report.problems.append((path, reason))
    return report
