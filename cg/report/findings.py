"""The report's findings (R9), checked against what a run actually shows.

Each check turns one claim of the report into a test on the runs' histories (and, where pixel
error cannot see the claim, on the generated images), and returns a row: the claim, the test,
the numbers behind it, and ``holds`` or ``does not hold`` — whatever the numbers say.

Two image statistics, both in [0, 1] pixel units:

- detail ``D(X) = mean over images of mean(|x[i, j+1] - x[i, j]|) + mean(|x[i+1, j] - x[i, j]|)``
  (mean gradient magnitude; blurry images have little), and the *detail ratio*
  ``D(generated) / D(real images of the target domain)``: 1 means as much fine structure as real
  images, below 1 blurrier (a crude proxy: noise and artefacts raise it as well);
- the data's own distance ``mean |A - B|`` over validation pairs: what a generator that
  translates correctly changes, against which the cycle-only collapse (R2) is measured.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pandas as pd
import torch

from cg.datasets import DATASETS

if TYPE_CHECKING:
    from cg.report.experiments import Run

COLUMNS = ("finding", "test", "numbers", "verdict")
HOLDS, FAILS = "holds", "does not hold"

#: The photo-generating direction and the structure-extracting direction per paired dataset.

#: "About equally bad": validation pixel errors within this relative difference (R9.2).
EQUAL_TOLERANCE = 0.15
#: "Overfits": the last validation pixel error at least this much above the best (R9.3).
OVERFIT_RISE = 0.05
#: "Collapses to the identity": |G(x) - x| below this fraction of the data's |A - B| (R9.5).
COLLAPSE_FRACTION = 0.5
#: At most this many validation images are translated for the image statistics.
MAX_IMAGES = 64


def _row(finding: str, test: str, numbers: str, ok: bool) -> dict[str, str]:
    return {"finding": finding, "test": test, "numbers": numbers, "verdict": HOLDS if ok else FAILS}


def _last(run: Run, column: str) -> float:
    values = pd.to_numeric(run.history[column], errors="coerce").dropna()
    return float(values.iloc[-1]) if len(values) else math.nan


def _mean(run: Run, column: str) -> float:
    return float(pd.to_numeric(run.history[column], errors="coerce").mean())


def _pe_both(run: Run, split: str = "val") -> pd.Series:
    """Pixel error averaged over both directions, per epoch (NaN where not recorded)."""
    h = run.history
    cols = [f"pixel_error_{d}_{split}" for d in ("ab", "ba")]
    if not all(c in h for c in cols):
        return pd.Series([math.nan] * len(h), index=h.index)
    return (
        pd.to_numeric(h[cols[0]], errors="coerce") + pd.to_numeric(h[cols[1]], errors="coerce")
    ) / 2


def detail(images: torch.Tensor) -> float:
    """Mean gradient magnitude of images in [-1, 1], in [0, 1] units (see module docstring)."""
    x = images.float() / 2.0
    dx = (x[..., :, 1:] - x[..., :, :-1]).abs().mean()
    dy = (x[..., 1:, :] - x[..., :-1, :]).abs().mean()
    return float(dx + dy)


def _val_images(run: Run, domain: str) -> torch.Tensor:
    from cg.data import DomainDataset

    files = run.data
    paths = files.val_a if domain == "a" else files.val_b
    cap = min(len(paths), run.config.max_val_images or len(paths), MAX_IMAGES)
    ds = DomainDataset(paths[:cap], run.config.image_size, half=domain if files.paired else None)
    return torch.stack([ds[i] for i in range(len(ds))])


def detail_ratio(run: Run, direction: str) -> float:
    """``D(g(x)) / D(real targets)`` on the validation split for ``direction`` (ab or ba)."""
    from cg.translate import load_generator, translate_batch

    source, target = ("a", "b") if direction == "ab" else ("b", "a")
    generator, _ = load_generator(run.checkpoint, direction, "cpu")
    x = _val_images(run, source)
    fakes = torch.cat([translate_batch(generator, c) for c in x.split(16)])
    return detail(fakes) / detail(_val_images(run, target))


def data_distance(run: Run) -> float:
    """Mean |A - B| over the validation pairs, in [0, 1] units (paired data only)."""
    a, b = _val_images(run, "a"), _val_images(run, "b")
    return float(((a - b) / 2).abs().mean())


def paired(noadv: Run, adv: Run, cycle_only: Run | None = None) -> pd.DataFrame:
    """R9.1, R9.2 (and R9.3 on edges2shoes, R9.5 given the cycle-only run) for a paired
    dataset's runs without and with the adversarial loss."""
    name = noadv.dataset
    facts = DATASETS.get(name)
    s, p = (facts.structure, facts.photo) if facts else ("ab", "ba")
    structure_task, photo_task = (facts.structure_task, facts.photo_task) if facts else (s, p)
    rows = []
    col = f"pixel_error_{s}_val"
    n_last, a_last = _last(noadv, col), _last(adv, col)
    n_mean, a_mean = _mean(noadv, col), _mean(adv, col)
    rows.append(
        _row(
            f"R9.1 {structure_task} learns better without the adversarial loss",
            "validation pixel error without adv. < with adv., at the last epoch and averaged "
            "over epochs",
            f"last {n_last:.4f} vs {a_last:.4f}; mean {n_mean:.4f} vs {a_mean:.4f}",
            n_last < a_last and n_mean < a_mean,
        )
    )
    col = f"pixel_error_{p}_val"
    n_last, a_last = _last(noadv, col), _last(adv, col)
    rel = abs(n_last - a_last) / max(n_last, a_last)
    rows.append(
        _row(
            f"R9.2 {photo_task}: about equally bad in pixel error either way",
            f"last validation pixel errors within {EQUAL_TOLERANCE:.0%} of each other",
            f"without adv. {n_last:.4f}, with adv. {a_last:.4f}; difference {rel:.1%}",
            rel <= EQUAL_TOLERANCE,
        )
    )
    n_det, a_det = detail_ratio(noadv, p), detail_ratio(adv, p)
    rows.append(
        _row(
            f"R9.2 {photo_task}: only the adversarial model invents detail",
            "detail ratio (gradient magnitude of outputs / of real images, validation) is "
            "higher with adv. than without (a crude proxy: artefacts count as detail too, so "
            "look at the samples)",
            f"with adv. {a_det:.3f}, without adv. {n_det:.3f}",
            a_det > n_det,
        )
    )
    if name == "edges2shoes":
        rows += _overfitting(noadv, adv)
    if cycle_only is not None:
        rows.append(collapse(cycle_only))
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _overfitting(noadv: Run, adv: Run) -> list[dict[str, str]]:
    val_n, train_n = _pe_both(noadv, "val"), _pe_both(noadv, "train")
    epochs = noadv.history["epoch"]
    best, last = float(val_n.min()), float(val_n.iloc[-1])
    best_epoch = int(epochs[val_n.idxmin()]) if val_n.notna().any() else 0
    rise = last / best - 1 if best > 0 else math.nan
    t_first, t_last = float(train_n.iloc[0]), float(train_n.iloc[-1])
    gap_n = last - t_last
    gap_a = float(_pe_both(adv, "val").iloc[-1]) - float(_pe_both(adv, "train").iloc[-1])
    return [
        _row(
            "R9.3 without the discriminator the model overfits within about 3 epochs",
            "validation pixel error (both directions) is lowest at epoch <= 3 and at the last "
            f"epoch >= {OVERFIT_RISE:.0%} above that, while the training pixel error falls",
            f"validation: best {best:.4f} at epoch {best_epoch}, last {last:.4f} "
            f"({rise:+.1%}); training: {t_first:.4f} -> {t_last:.4f}",
            1 <= best_epoch <= 3
            and best_epoch < int(epochs.iloc[-1])
            and rise >= OVERFIT_RISE
            and t_last < t_first,
        ),
        _row(
            "R9.3 the adversarial model generalises better",
            "generalisation gap (validation - training pixel error, both directions, last "
            "epoch) smaller with adv. than without",
            f"gap with adv. {gap_a:.4f}, without adv. {gap_n:.4f}",
            gap_a < gap_n,
        ),
    ]


def collapse(cycle_only: Run) -> dict[str, str]:
    """R9.5: with the cycle loss alone each generator ends up copying its input."""
    dist = data_distance(cycle_only)
    ab, ba = _last(cycle_only, "identity_ab_val"), _last(cycle_only, "identity_ba_val")
    first_ab = float(cycle_only.history["identity_ab_val"].iloc[0])
    first_ba = float(cycle_only.history["identity_ba_val"].iloc[0])
    limit = COLLAPSE_FRACTION * dist
    return _row(
        "R9.5 the cycle loss alone collapses to the identity mapping",
        f"cycle-only |G(x) - x| at the last epoch < {COLLAPSE_FRACTION:g} x the data's "
        "|A - B|, in both directions, and falling",
        f"|G_AB(a) - a| {first_ab:.4f} -> {ab:.4f}, |G_BA(b) - b| {first_ba:.4f} -> {ba:.4f}; "
        f"data |A - B| {dist:.4f}",
        ab < limit and ba < limit and ab <= first_ab and ba <= first_ba,
    )


def unpaired(run: Run) -> pd.DataFrame:
    """R9.4 on the unpaired face2simpson run: human -> Simpson works, Simpson -> human is
    blurry."""
    r_ab, r_ba = detail_ratio(run, "ab"), detail_ratio(run, "ba")
    f_ab, f_ba = _last(run, "feedback_ab_val"), _last(run, "feedback_ba_val")
    rows = [
        _row(
            "R9.4 Simpson -> human is blurry, human -> Simpson is not",
            "detail ratio (gradient magnitude of outputs / of real target images, validation) "
            "lower for Simpson -> human",
            f"human -> Simpson {r_ab:.3f}, Simpson -> human {r_ba:.3f}",
            r_ba < r_ab,
        ),
        _row(
            "R9.4 human -> Simpson works better than Simpson -> human",
            "discriminator feedback on generated validation images higher for human -> "
            "Simpson (last epoch)",
            f"human -> Simpson {f_ab:.3f}, Simpson -> human {f_ba:.3f}",
            f_ab > f_ba,
        ),
    ]
    return pd.DataFrame(rows, columns=list(COLUMNS))
