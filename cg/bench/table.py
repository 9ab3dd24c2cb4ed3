"""The table ``cg bench`` prints, and the targets it is read against.

The reference implementation (pytorch-CycleGAN-and-pix2pix) is never run inside cg: its step is
timed on the same machine by ``bench/reference_step.py``, whose JSON ``cg bench --reference``
reads, so that every "vs ref" figure compares two numbers measured side by side.
"""

from __future__ import annotations

from typing import Any

from cg.bench.cases import REFERENCE_CONFIGS

#: Speed goals against the reference, by the epoch: fp32 at least 1.2x its images/s, bf16 (on a
#: CPU with bf16 hardware) 2x; the data pipeline at least 5x the fastest training.
TARGETS: dict[str, float] = {"fp32": 1.2, "bf16": 2.0, "data_over_training": 5.0}

GIB = 1024**3


def _fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def format_table(result: dict[str, Any]) -> str:
    """The benchmark's result as aligned text tables."""
    m = result["machine"]
    lines = [
        f"cg bench on {m['device']} ({m.get('gpu') or m['cpu']}, {m['threads']} threads, "
        f"torch {m['torch']}){' [quick: CI-sized shapes]' if result.get('quick') else ''}",
        f"training: medians of up to {result['repeats']} timed steps (at least 2, about "
        f"{result['seconds']:.0f} s) after up to {result['warmup']} warm-up steps, "
        f"{result['rounds']} round(s); load average {m.get('load_average')} before, "
        f"{m.get('load_average_after')} after",
        "",
    ]
    ceil = result.get("ceilings")
    if ceil:
        lines.append(f"{'ceiling':<16}{'GFLOP/s':>10}")
        for k, v in ceil.items():
            lines.append(f"{k:<16}{v['gflops']:>10.1f}")
        lines.append("")
    rows = result.get("training")
    if rows:
        mfu = any("mfu_bf16_peak" in r for r in rows)
        head = (
            f"{'case':<24}{'variant':<18}{'img/s':>8}{'s/step':>9}{'GFLOP':>8}"
            f"{'GFLOP/s':>9}{'of conv':>9}{'of mm32':>9}{'peak GiB':>10}{'busy':>6}"
            f"{'vs base':>9}{'vs ref':>8}"
        )
        lines += [head + ("     MFU" if mfu else ""), "-" * (len(head) + (8 if mfu else 0))]
        for r in rows:
            line = (
                f"{r['case']:<24}{r['variant']:<18}{r['images_per_s']:>8.2f}"
                f"{r['step_s']:>9.3f}{_fmt(r['gflop_per_step'], '.1f'):>8}"
                f"{_fmt(r['gflops'], '.1f'):>9}{_fmt(r.get('of_conv_ceiling'), '.0%'):>9}"
                f"{_fmt(r.get('of_matmul_fp32'), '.0%'):>9}"
                f"{r['peak_memory_bytes'] / GIB:>10.2f}{r['threads_busy']:>6.1f}"
                f"{_fmt(r.get('speedup_vs_baseline'), '.2f'):>8}x"
                f"{_vs_ref(r, result):>8}"
            )
            if mfu:
                line += f"{_fmt(r.get('mfu_bf16_peak'), '.1%'):>8}"
            lines.append(line)
        kinds = sorted({r["memory_kind"] for r in rows})
        lines += [
            f"peak memory: {', '.join(kinds)}; 'of conv': of the 3x3 conv ceiling at the "
            "same precision and layout; 'of mm32': of the fp32 matmul ceiling; 'busy': CPU "
            "seconds per wall second of the timed steps (below the thread count: other "
            "processes took the cores); 'vs base': images/s over the fp32+baseline row of "
            "the same case (PyTorch's defaults, without cg's CPU fast paths); 'vs ref': "
            "images/s over the reference implementation's step (--reference)",
            *_reference_lines(result),
            "",
        ]
    lines += _epoch_lines(result)
    for prof in result.get("profile") or []:
        total = prof["profiled_s"]
        lines.append(
            f"where the time of one {prof['case']} {prof['variant']} step goes (profiler self "
            f"time, {total:.3f} s in all)"
        )
        for kind, sec in prof["seconds_by_kind"].items():
            lines.append(f"  {kind:<28}{sec:>9.3f} s{sec / total:>7.0%}")
        if prof.get("convolution_gflops"):
            lines.append(
                f"  convolutions alone: {prof['convolution_gflops']:.1f} GFLOP/s "
                f"({prof['convolution_share']:.0%} of the time)"
            )
        lines.append("")
    data = result.get("data")
    if data:
        lines.append(f"{'data pipeline':<28}{'img/s':>10}{'setup s':>9}")
        for d in data:
            name = (
                f"{d['image_size']} px, cache {'on' if d['cache'] else 'off'}, "
                f"{d['num_workers']} workers"
            )
            lines.append(f"{name:<28}{d['images_per_s']:>10.1f}{d['setup_s']:>9.2f}")
        lines += [*_data_ratio(result), ""]
    tr = result.get("translate")
    if tr:
        lines += [
            f"translate: {tr['images_per_s']:.1f} img/s ({tr['images']} images at "
            f"{tr['image_size']} px, batch {tr['batch_size']}, decode to encode)",
            "",
        ]
    lines += _grid_lines(result)
    lines += _stacking_lines(result)
    return "\n".join(lines).rstrip() + "\n"


def _reference_row(case: str, result: dict[str, Any]) -> dict[str, Any] | None:
    config = REFERENCE_CONFIGS.get(case)
    return next((r for r in result.get("reference") or [] if r["config"] == config), None)


def _vs_ref(row: dict[str, Any], result: dict[str, Any]) -> str:
    ref = _reference_row(row["case"], result)
    if ref is None or (ref["batch_size"], ref["image_size"]) != (
        row["batch_size"],
        row["image_size"],
    ):
        return "-"
    return f"{row['images_per_s'] / ref['images_per_s']:.2f}x"


def _reference_lines(result: dict[str, Any]) -> list[str]:
    out = []
    for r in result.get("reference") or []:
        out.append(
            f"reference implementation, {r['config']}: {r['images_per_s']:.2f} img/s "
            f"({r['step_s']:.3f} s/step, batch {r['batch_size']}, {r['image_size']} px, "
            f"{r.get('threads')} threads, {r.get('cpu')}, load "
            f"{(r.get('load_average_before') or ['?'])[0]} -> "
            f"{(r.get('load_average_after') or ['?'])[0]})"
        )
    if out:
        out.append(
            f"targets by the epoch: fp32 >= {TARGETS['fp32']:g}x the reference, bf16 >= "
            f"{TARGETS['bf16']:g}x (on a CPU with bf16 hardware)"
        )
    return out


def _epoch_lines(result: dict[str, Any]) -> list[str]:
    rows = result.get("epochs")
    if not rows:
        return []
    head = (
        f"{'epochs end to end':<24}{'variant':<18}{'img/s':>8}{'steps':>8}{'eval':>7}"
        f"{'samples':>8}{'ckpt':>7}{'epoch s':>9}{'overhead':>9}{'vs ref':>8}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['case']:<24}{r['variant']:<18}{r['images_per_s']:>8.2f}{r['steps_s']:>8.2f}"
            f"{r['evaluation_s']:>7.2f}{r['samples_s']:>8.2f}{r['checkpoint_s']:>7.2f}"
            f"{r['epoch_s']:>9.2f}{r['overhead']:>9.1%}{_vs_ref(r, result):>8}"
        )
    r0 = rows[0]
    lines += [
        f"one epoch = {r0['images_per_epoch']} training images (batch {r0['batch_size']}) + the "
        f"evaluation of {r0['validation_images']} validation images and the training subset; "
        f"seconds are medians over {r0['epochs_timed']} epoch(s) after the first; 'ckpt': what "
        "the checkpoint cost the training (snapshot + waiting for the background writer); "
        "'overhead': the share of the epoch that is not steps",
        "",
    ]
    return lines


def _shape(r: dict[str, Any]) -> str:
    """A measured row's step size, as the grid and stacking lines name it."""
    return f"{r['image_size']}px {r['base_channels']}ch b{r['batch_size']}"


def _grid_lines(result: dict[str, Any]) -> list[str]:
    """The grid part: seed-steps per second of the machine in each layout (runs x threads)."""
    rows = result.get("grid")
    if not rows:
        return []
    lines = [
        "grid: the report's step side by side, seed-steps/s of the whole machine "
        "(runs x threads: ms per step of each run)"
    ]
    for r in rows:
        shape = _shape(r)
        cells = [
            f"{x['runs']}x{x['threads']}: {x['seed_steps_per_s']:.1f}/s "
            f"({'/'.join(f'{m:.0f}' for m in x['step_ms'])} ms)"
            for x in r["layouts"]
        ]
        fastest, rule = r["fastest"], r["rule"]
        verdict = "the rule's" if fastest == rule else f"rule {rule[0]}x{rule[1]}"
        lines.append(
            f"  {shape:<16}" + "  ".join(cells) + f"  fastest {fastest[0]}x{fastest[1]} ({verdict})"
        )
    return lines + [""]


def _stacking_lines(result: dict[str, Any]) -> list[str]:
    """The stacking part: seed-steps per second of stacked seeds against separate networks."""
    rows = result.get("stacking")
    if not rows:
        return []
    lines = [
        "stacking: seeds' generator steps (forward, L1, backward, Adam) in one process, "
        "seed-steps/s, separate networks vs stacked (torch.func vmap)"
    ]
    for r in rows:
        shape = _shape(r)
        lines.append(
            f"  {shape:<16}{r['seeds']} seeds x {r['threads']} thread(s): separate "
            f"{r['separate_seed_steps_per_s']:.1f}/s, stacked "
            f"{r['stacked_seed_steps_per_s']:.1f}/s ({r['speedup']:.2f}x)"
        )
    return lines + [""]


def _data_ratio(result: dict[str, Any]) -> list[str]:
    data, rows = result.get("data") or [], result.get("training") or []
    if not data:
        return []
    size = data[0]["image_size"]
    trained = [r["images_per_s"] for r in rows if r["image_size"] == size]
    if not trained:
        return []
    best = max(d["images_per_s"] for d in data)
    return [
        f"data pipeline / fastest training at {size} px: {best / max(trained):.1f}x "
        f"(target >= {TARGETS['data_over_training']:.0f}x)"
    ]
