"""The report's findings (R9), decided from numbers (R10).

Each check turns one claim into a statistic of per-image values (the final models applied to
the validation images, up to :data:`MAX_IMAGES`), a 95% bootstrap interval over those images
(:mod:`cg.report.stats`) and a verdict: ``holds``, ``does not hold`` or ``undecided``. The rules
are fixed here, before any run; no threshold is chosen after seeing a result.

Image statistics, in [0, 1] pixel units:

- pixel error of an image: the mean squared error against its target (R5);
- detail ``D(x) = mean(|x[i, j+1] - x[i, j]|) + mean(|x[i+1, j] - x[i, j]|)`` (mean gradient
  magnitude: blurry images have little); the *detail ratio* of a generated image is its detail
  over the mean detail of the real images of its target domain (1 = as much fine structure as
  real images, below 1 blurrier);
- identity distance ``mean |G(x) - x|``, against the data's own ``mean |A - B|`` (what a
  generator that translates must change);
- KID (Binkowski et al. 2018) of each direction's outputs against the real images of its
  target domain: one yardstick for both directions of an unpaired run;
- segmentation scores of generated label maps (:mod:`cg.eval.segmentation`).

Every check returns one row (:data:`COLUMNS`); :func:`table` shows rows for a reader and
:func:`write_csv` writes them for a machine (``reports/findings.csv``).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch

from cg.datasets import DATASETS
from cg.report import stats as S

if TYPE_CHECKING:
    from cg.report.experiments import Run

COLUMNS = (
    "id",
    "dataset",
    "claim",
    "test",
    "statistic",
    "value",
    "low",
    "high",
    "line",
    "n",
    "numbers",
    "verdict",
)
HOLDS, FAILS, UNDECIDED = S.HOLDS, S.FAILS, S.UNDECIDED

#: R9.2: "about equally bad": the relative pixel-error difference within +-15%.
EQUAL_TOLERANCE = 0.15
#: R9.5: "does not learn the translation": pixel error at least 1.5x the identity-loss model's.
NOT_LEARNED = 1.5
#: R9.5: "collapses to the identity": |G(x) - x| below half of the data's |A - B|.
COLLAPSE_FRACTION = 0.5
#: R9.3: "overfits within about 3 epochs" of the report's 15: the validation minimum in the
#: first fifth of training, and the last epoch at least 5% above it.
OVERFIT_RISE = 0.05
EARLY_FRACTION = 0.2
#: Images per split scored (and resampled) by the checks.
MAX_IMAGES = 256


def _row(
    id_: str,
    dataset: str,
    claim: str,
    test: str,
    statistic: str,
    e: S.Estimate,
    line: float,
    numbers: str,
    verdict: str,
) -> dict[str, Any]:
    return {
        "id": id_,
        "dataset": dataset,
        "claim": claim,
        "test": test,
        "statistic": statistic,
        "value": e.value,
        "low": e.low,
        "high": e.high,
        "line": line,
        "n": e.n,
        "numbers": numbers,
        "verdict": verdict,
    }


# --- per-image values of a run ---------------------------------------------------------------

_CACHE: dict[tuple[str, str, str, float], tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}


def _images(run: Run, domain: str, split: str) -> torch.Tensor:
    """Up to MAX_IMAGES ``split`` images of ``domain`` (``a``/``b``) as the run saw them."""
    from cg.data import DomainDataset

    files = run.data
    paths = getattr(files, f"{split}_{domain}")
    cap = run.config.max_val_images if split == "val" else run.config.max_train_images
    paths = paths[: min(len(paths), cap or len(paths), MAX_IMAGES)]
    ds = DomainDataset(paths, run.config.image_size, half=domain if files.paired else None)
    return torch.stack([ds[i] for i in range(len(ds))])


def outputs(
    run: Run, direction: str, split: str = "val", checkpoint: Path | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(fake, source, target)`` of ``direction`` on ``split``'s images (paired data: the
    targets are the sources' partners; unpaired: the target domain's images)."""
    from cg.translate import load_generator, translate_batch

    ckpt = Path(checkpoint or run.checkpoint)
    key = (str(ckpt), direction, split, ckpt.stat().st_mtime)
    if key not in _CACHE:
        src, dst = ("a", "b") if direction == "ab" else ("b", "a")
        generator, _ = load_generator(ckpt, direction, "cpu")
        x = _images(run, src, split)
        with torch.inference_mode():
            fake = torch.cat([translate_batch(generator, c) for c in x.split(32)])
        _CACHE[key] = (fake, x, _images(run, dst, split))
    return _CACHE[key]


def pixel_errors(fake: torch.Tensor, target: torch.Tensor) -> np.ndarray:
    return ((fake.float() - target.float()) / 2).pow(2).flatten(1).mean(1).numpy()


def details(images: torch.Tensor) -> np.ndarray:
    """Per-image detail ``D`` (module docstring) of images in [-1, 1]."""
    x = images.float() / 2.0
    dx = (x[..., :, 1:] - x[..., :, :-1]).abs().flatten(1).mean(1)
    dy = (x[..., 1:, :] - x[..., :-1, :]).abs().flatten(1).mean(1)
    return (dx + dy).numpy()


def detail(images: torch.Tensor) -> float:
    """Mean detail of a set of images in [-1, 1]."""
    return float(details(images).mean())


def _detail_ratios(run: Run, direction: str) -> np.ndarray:
    fake, _, target = outputs(run, direction)
    return details(fake) / detail(target)


def _identity(run: Run, direction: str) -> np.ndarray:
    fake, source, _ = outputs(run, direction)
    return ((fake - source) / 2).abs().flatten(1).mean(1).numpy()


def data_distance(run: Run) -> float:
    """Mean |A - B| over the validation pairs, in [0, 1] units (paired data only)."""
    a, b = _images(run, "a", "val"), _images(run, "b", "val")
    return float(((a - b) / 2).abs().mean())


def _pe(run: Run, direction: str, split: str = "val", checkpoint: Path | None = None) -> np.ndarray:
    fake, _, target = outputs(run, direction, split, checkpoint)
    return pixel_errors(fake, target)


def _last(run: Run, column: str) -> float:
    values = pd.to_numeric(run.history[column], errors="coerce").dropna()
    return float(values.iloc[-1]) if len(values) else math.nan


def _facts(run: Run) -> tuple[str, str, str, str]:
    """(structure direction, photo direction, structure task, photo task) of a run's data."""
    facts = DATASETS.get(run.dataset)
    if facts is None:
        return "ab", "ba", "A -> B", "B -> A"
    return facts.structure, facts.photo, facts.structure_task, facts.photo_task


# --- the checks ----------------------------------------------------------------------------


def structure_better_without_adv(noadv: Run, adv: Run) -> dict[str, Any]:
    """R9.1: segmentation / edge extraction learns better without the adversarial loss."""
    s, _, task, _ = _facts(noadv)
    a, b = _pe(noadv, s), _pe(adv, s)
    e = S.estimate([a, b], S.mean_difference, paired=True)
    return _row(
        "R9.1",
        noadv.dataset,
        f"{task} learns better without the adversarial loss",
        f"validation pixel error of {task} ({s}) without adv. minus with adv., per image; "
        "holds if the interval is below 0",
        "pixel error difference",
        e,
        0.0,
        f"pixel error without adv. {a.mean():.4f}, with adv. {b.mean():.4f}",
        S.below(e, 0.0),
    )


def segmentation_better_without_adv(noadv: Run, adv: Run) -> dict[str, Any] | None:
    """R9.1 scored as the CycleGAN paper scores photo -> labels: class IoU per image."""
    from cg.eval.segmentation import per_image_scores

    facts = DATASETS.get(noadv.dataset)
    if facts is None or facts.palette is None:
        return None
    palette = torch.tensor(facts.palette)
    scored = {}
    for run in (noadv, adv):
        fake, _, target = outputs(run, facts.structure)
        scored[run.name] = per_image_scores(fake, target, palette)
    iou = [np.array([s["class_iou"] for s in scored[r.name]]) for r in (noadv, adv)]
    acc = [np.mean([s["pixel_acc"] for s in scored[r.name]]) for r in (noadv, adv)]
    e = S.estimate(iou, S.mean_difference, paired=True)
    return _row(
        "R9.1-seg",
        noadv.dataset,
        "segmentation learns better without the adversarial loss (segmentation scores)",
        "class IoU of the decoded label maps (nearest palette colour) without adv. minus with "
        "adv., per image; holds if the interval is above 0",
        "class IoU difference",
        e,
        0.0,
        f"class IoU without adv. {iou[0].mean():.3f}, with adv. {iou[1].mean():.3f}; pixel "
        f"accuracy {acc[0]:.3f} vs {acc[1]:.3f}",
        S.above(e, 0.0),
    )


def photo_equally_bad(noadv: Run, adv: Run) -> dict[str, Any]:
    """R9.2: generating the photo is about equally bad in pixel error either way."""
    _, p, _, task = _facts(noadv)
    a, b = _pe(noadv, p), _pe(adv, p)
    e = S.estimate([b, a], S.relative_difference, paired=True)  # (adv - noadv) / adv
    return _row(
        "R9.2-equal",
        noadv.dataset,
        f"{task}: about equally bad in pixel error either way",
        f"relative difference of the validation pixel errors (with - without adv.) / with "
        f"adv.; holds if the interval lies within +-{EQUAL_TOLERANCE:.0%}, does not hold if "
        "it lies wholly outside",
        "relative pixel error difference",
        e,
        EQUAL_TOLERANCE,
        f"pixel error without adv. {a.mean():.4f}, with adv. {b.mean():.4f}",
        S.within(e, EQUAL_TOLERANCE),
    )


def adv_invents_detail(noadv: Run, adv: Run) -> dict[str, Any]:
    """R9.2: only the adversarial model invents detail (the pixel-loss model blurs)."""
    _, p, _, task = _facts(noadv)
    a, b = _detail_ratios(noadv, p), _detail_ratios(adv, p)
    e = S.estimate([b, a], S.mean_difference, paired=True)
    return _row(
        "R9.2-detail",
        noadv.dataset,
        f"{task}: only the adversarial model invents detail",
        "detail ratio (detail of each output / mean detail of real target images) with adv. "
        "minus without, per image; holds if the interval is above 0",
        "detail ratio difference",
        e,
        0.0,
        f"detail ratio with adv. {b.mean():.3f}, without adv. {a.mean():.3f} (1 = as detailed "
        "as real images)",
        S.above(e, 0.0),
    )


def overfits(noadv: Run) -> dict[str, Any]:
    """R9.3: without the discriminator the model overfits early."""
    from cg.train.run_dir import RunDir

    h = noadv.history
    s, p = _facts(noadv)[:2]
    val = (pd.to_numeric(h[f"pixel_error_{s}_val"]) + pd.to_numeric(h[f"pixel_error_{p}_val"])) / 2
    epochs = h["epoch"].astype(int)
    best_epoch = int(epochs[val.idxmin()])
    last_epoch = int(epochs.iloc[-1])
    early = max(1, round(EARLY_FRACTION * last_epoch))
    best_ckpt = RunDir(noadv.out).epoch_checkpoint(best_epoch)
    if best_epoch == last_epoch or not best_ckpt.is_file():
        e = S.Estimate(1.0, math.nan, math.nan, 0)
        numbers = f"validation pixel error lowest at epoch {best_epoch} of {last_epoch}"
        verdict = FAILS if best_epoch == last_epoch else UNDECIDED
    else:
        last_pe = (_pe(noadv, s) + _pe(noadv, p)) / 2
        best_pe = (_pe(noadv, s, checkpoint=best_ckpt) + _pe(noadv, p, checkpoint=best_ckpt)) / 2
        e = S.estimate([last_pe, best_pe], S.ratio, paired=True)  # last / best
        numbers = (
            f"validation pixel error lowest at epoch {best_epoch} of {last_epoch} "
            f"({float(val.min()):.4f}), {float(val.iloc[-1]):.4f} at the end"
        )
        verdict = S.both(S.above(e, 1 + OVERFIT_RISE), HOLDS if best_epoch <= early else FAILS)
    return _row(
        "R9.3-overfit",
        noadv.dataset,
        "without the discriminator the model overfits within about 3 epochs",
        f"validation pixel error (both directions) at the last epoch over that at the epoch "
        f"where it was lowest, per image; holds if that epoch is in the first "
        f"{EARLY_FRACTION:.0%} of training and the interval is above {1 + OVERFIT_RISE:g}",
        "pixel error ratio last / best epoch",
        e,
        1 + OVERFIT_RISE,
        numbers,
        verdict,
    )


def adv_generalises_better(noadv: Run, adv: Run) -> dict[str, Any]:
    """R9.3: the adversarial model generalises better (a smaller validation - training gap)."""
    s, p = _facts(noadv)[:2]

    def both_directions(run: Run, split: str) -> np.ndarray:
        return (_pe(run, s, split) + _pe(run, p, split)) / 2

    d_val = both_directions(adv, "val") - both_directions(noadv, "val")
    d_train = both_directions(adv, "train") - both_directions(noadv, "train")
    e = S.estimate([d_val, d_train], S.mean_difference)  # gap(adv) - gap(noadv)
    gap_a = both_directions(adv, "val").mean() - both_directions(adv, "train").mean()
    gap_n = both_directions(noadv, "val").mean() - both_directions(noadv, "train").mean()
    return _row(
        "R9.3-generalise",
        noadv.dataset,
        "the adversarial model generalises better",
        "generalisation gap (validation - training pixel error, both directions) with adv. "
        "minus without; holds if the interval is below 0",
        "gap difference",
        e,
        0.0,
        f"gap with adv. {gap_a:.4f}, without adv. {gap_n:.4f}",
        S.below(e, 0.0),
    )


def cycle_only_does_not_learn(cycle_only: Run, noadv: Run) -> dict[str, Any]:
    """R9.5: with the cycle loss alone the translation is not learnt."""
    a = (_pe(cycle_only, "ab") + _pe(cycle_only, "ba")) / 2
    b = (_pe(noadv, "ab") + _pe(noadv, "ba")) / 2
    e = S.estimate([a, b], S.ratio, paired=True)
    return _row(
        "R9.5",
        cycle_only.dataset,
        "the cycle loss alone does not learn the translation",
        f"validation pixel error (both directions) of the cycle-only model over the "
        f"identity-loss model's (no adv.); holds if the interval is above {NOT_LEARNED:g}",
        "pixel error ratio",
        e,
        NOT_LEARNED,
        f"pixel error cycle-only {a.mean():.4f}, with the identity loss {b.mean():.4f}",
        S.above(e, NOT_LEARNED),
    )


def ends_at_identity(run: Run, id_: str, claim: str) -> dict[str, Any]:
    """R9.5 (second part): the run's generators end up copying their input."""
    dist = data_distance(run)
    x = (_identity(run, "ab") + _identity(run, "ba")) / 2 / dist
    e = S.estimate([x], lambda v: float(np.mean(v)))
    curve = (run.history["identity_ab_val"] + run.history["identity_ba_val"]) / 2
    first, last = float(curve.iloc[0]), float(curve.iloc[-1])
    falling = HOLDS if last <= first else FAILS
    return _row(
        id_,
        run.dataset,
        claim,
        f"|G(x) - x| (both directions) over the data's |A - B|, per image; holds if the "
        f"interval is below {COLLAPSE_FRACTION:g} and |G(x) - x| fell during training",
        "identity distance / data distance",
        e,
        COLLAPSE_FRACTION,
        f"|G(x) - x| {first:.4f} -> {last:.4f} over training; data |A - B| {dist:.4f}",
        S.both(S.below(e, COLLAPSE_FRACTION), falling),
    )


def simpson_to_human_blurry(run: Run) -> dict[str, Any]:
    """R9.4: Simpson -> human is blurry, human -> Simpson is not."""
    ab, ba = _detail_ratios(run, "ab"), _detail_ratios(run, "ba")
    e = S.estimate([ab, ba], S.mean_difference)
    return _row(
        "R9.4-blur",
        run.dataset,
        "Simpson -> human is blurry, human -> Simpson is not",
        "detail ratio (detail of outputs / of real target images, validation) of human -> "
        "Simpson minus Simpson -> human; holds if the interval is above 0",
        "detail ratio difference",
        e,
        0.0,
        f"detail ratio human -> Simpson {ab.mean():.3f}, Simpson -> human {ba.mean():.3f}",
        S.above(e, 0.0),
    )


def human_to_simpson_better(run: Run) -> dict[str, Any]:
    """R9.4: human -> Simpson works better, by KID against each direction's real target."""
    from cg.report.kid import kid_estimate

    fake_b, _, real_b = outputs(run, "ab")
    fake_a, _, real_a = outputs(run, "ba")
    e, k_ab, k_ba = kid_estimate(fake_b, real_b, fake_a, real_a)
    return _row(
        "R9.4-better",
        run.dataset,
        "human -> Simpson works better than Simpson -> human",
        "KID of each direction's validation outputs against the real images of its target "
        "domain (same Inception yardstick), Simpson -> human minus human -> Simpson; holds if "
        "the interval is above 0",
        "KID difference",
        e,
        0.0,
        f"KID human -> Simpson {k_ab:.4f}, Simpson -> human {k_ba:.4f}",
        S.above(e, 0.0),
    )


# --- per dataset ---------------------------------------------------------------------------


def paired(
    noadv: Run, adv: Run, cycle_only: Run | None = None, cycle_classic: Run | None = None
) -> list[dict[str, Any]]:
    """The checks of a paired dataset's runs (R9.1, R9.2; R9.3 on edges2shoes; R9.5 given the
    cycle-only run, and the cycle + classic identity ablation given that run)."""
    rows = [structure_better_without_adv(noadv, adv)]
    seg = segmentation_better_without_adv(noadv, adv)
    rows += [seg] if seg is not None else []
    rows += [photo_equally_bad(noadv, adv), adv_invents_detail(noadv, adv)]
    if noadv.dataset == "edges2shoes":
        rows += [overfits(noadv), adv_generalises_better(noadv, adv)]
    if cycle_only is not None:
        rows.append(cycle_only_does_not_learn(cycle_only, noadv))
        rows.append(
            ends_at_identity(
                cycle_only,
                "R9.5-identity",
                "the cycle loss alone collapses to the identity mapping",
            )
        )
    if cycle_classic is not None:
        rows.append(
            ends_at_identity(
                cycle_classic,
                "R9.5-classic",
                "cycle + classic identity loss without a discriminator collapses to the identity",
            )
        )
    return rows


def unpaired(run: Run) -> list[dict[str, Any]]:
    """R9.4 on the unpaired face2simpson run."""
    return [simpson_to_human_blurry(run), human_to_simpson_better(run)]


# --- output --------------------------------------------------------------------------------


def table(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """The rows as a reader wants them: claim, verdict, the estimate with its interval, the
    numbers behind it and the test."""
    out = []
    for r in rows:
        est = S.Estimate(r["value"], r["low"], r["high"], r["n"])
        out.append(
            {
                "id": r["id"],
                "claim": r["claim"],
                "verdict": r["verdict"],
                "statistic [95% interval]": f"{r['statistic']}: {est}",
                "numbers": r["numbers"],
                "test": r["test"],
                "images": r["n"],
            }
        )
    return pd.DataFrame(out).set_index("id")


def write_csv(rows: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """``rows`` as CSV (:data:`COLUMNS`), atomically."""
    from cg.files import atomic_write_text

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(COLUMNS), lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: r.get(k) for k in COLUMNS})
    path = Path(path)
    atomic_write_text(path, buf.getvalue())
    return path


def read_csv(path: str | Path) -> list[dict[str, Any]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def publish(rows: Sequence[dict[str, Any]], dataset: str, results_dir: str | Path) -> Any:
    """Write ``rows`` to ``results_dir/<dataset>.csv`` (``cg report`` joins these into
    ``reports/findings.csv``) and return the table a reader sees."""
    if results_dir:
        write_csv(rows, Path(results_dir) / f"{dataset}.csv")
    return table(rows)
