"""The example inputs a ``cg demo`` page offers: a few validation images of the run's data.

From the run's data folder when it is reachable (the first validation images of each domain
the checkpoint translates from: halves of ``val/`` pairs as PNG, unpaired images copied byte
for byte); otherwise rendered from the built-in synthetic data of the run's dataset
(:func:`cg.data.synthetic.render_val`, at the run's image size, at most 256 px), written into
the page's own temporary folder. Nothing is downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cg.data.synthetic import render_val
from cg.demo.run import DemoRun, dataset_of, shown
from cg.errors import UserError

#: examples per source domain
PER_DOMAIN = 3
#: the largest side of rendered examples (rendering is supersampled: 256 px takes 0.3 s each)
MAX_RENDERED = 256


@dataclass(frozen=True)
class Examples:
    files: list[Path]
    labels: list[str]
    #: where they come from, in words, for the model card
    source: str

    def by_domain(self) -> dict[str, list[Path]]:
        """``{"a": [...], "b": [...]}``: the files of each domain (their names start with it)."""
        found: dict[str, list[Path]] = {}
        for f in self.files:
            found.setdefault(f.name[0], []).append(f)
        return found


def write_examples(run: DemoRun, folder: Path, per_domain: int = PER_DOMAIN) -> Examples:
    """Up to ``per_domain`` example images of each domain the run translates from, written
    into ``folder``: from the run's data folder, else from the built-in synthetic data of its
    dataset, else none."""
    folder.mkdir(parents=True, exist_ok=True)
    domains = [direction[0] for direction in run.generators]  # "ab" reads A, "ba" reads B
    made = _from_data(run, folder, domains, per_domain)
    if made is not None:
        return made
    name = dataset_of(run.cfg)
    if name is None:
        return Examples([], [], "none (the run's data folder is not reachable)")

    files, labels = [], []
    size = min(run.cfg.image_size, MAX_RENDERED)
    for domain in domains:
        for i in range(1, per_domain + 1):
            target = folder / f"{domain}_{i}.png"
            render_val(name, domain, i, size=size).save(target, format="PNG")
            files.append(target)
            labels.append(f"{run.domain(domain)} {i}")
    reason = f"the run's data folder {shown(run.cfg.data)} is not reachable" if run.cfg.data else ""
    return Examples(
        files, labels, f"built-in synthetic {name}, {size} px{f' ({reason})' if reason else ''}"
    )


def _from_data(run: DemoRun, folder: Path, domains: list[str], n: int) -> Examples | None:
    """Examples from the validation split of the run's data folder; None if it is not there
    (or not a dataset any more)."""
    from cg.data import load_rgb, scan_dataset, split_pair
    from cg.files import copy_atomic
    from cg.images import save_image

    data = Path(run.cfg.data) if run.cfg.data else None
    if data is None or not data.is_dir():
        return None
    try:
        files = scan_dataset(data)
        files_made, labels = [], []
        for domain in domains:
            sources = (files.val_a if domain == "a" else files.val_b)[:n]
            for i, source in enumerate(sources, 1):
                if files.paired:
                    target = folder / f"{domain}_{i}.png"
                    a, b = split_pair(load_rgb(source), source)
                    save_image(a if domain == "a" else b, target)
                else:
                    target = folder / f"{domain}_{i}{source.suffix.lower()}"
                    copy_atomic(source, target)
                files_made.append(target)
                labels.append(f"{run.domain(domain)}: {source.name}")
    except UserError:
        return None
    return Examples(files_made, labels, f"validation images of {shown(data)}")
