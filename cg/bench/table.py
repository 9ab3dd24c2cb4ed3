"""The table ``cg bench`` prints, the reference figures it is compared with, and the CLI entry.

The reference figures are the reference implementation's (pytorch-CycleGAN-and-pix2pix) as
measured on a 2-core AVX-512 machine with torch 2.14.1: pix2pix with ``unet_128`` and the basic
PatchGAN, batch 16, 128 px, 2.10-2.16 s per iteration = 7.4-7.6 images/s, 339 GFLOP per
iteration; its CycleGAN with the same networks, 2.0 images/s, 1,250 GFLOP per iteration; and
that machine's ceilings (GFLOP/s).
"""

from __future__ import annotations

from typing import Any

REFERENCE: dict[str, Any] = {
    "pix2pix_unet128_b16_128px": {
        "images_per_s": [7.4, 7.6],
        "s_per_iter": [2.10, 2.16],
        "gflop_per_iter": 339,
        "gflops": 160,
    },
    "cyclegan_unet128_b16_128px": {
        "images_per_s": [2.0, 2.0],
        "s_per_iter": [7.75, 7.93],
        "gflop_per_iter": 1250,
        "gflops": 160,
    },
    "ceilings_gflops": {
        "matmul_fp32": [153, 157],
        "conv_fp32_nchw": 136,
        "conv_fp32_cl": 172,
        "conv_bf16_nchw": 251,
        "conv_bf16_cl": 331,
    },
    "targets": {
        "reference_fp32_images_per_s": 1.2 * 7.6,
        "reference_bf16_images_per_s": 2 * 7.6,
        "data_over_training": 5.0,
    },
}

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
        ref = REFERENCE["ceilings_gflops"]
        lines.append(f"{'ceiling':<16}{'GFLOP/s':>10}{'reference':>12}")
        for k, v in ceil.items():
            r = ref.get(k)
            rs = "-" if r is None else ("-".join(map(str, r)) if isinstance(r, list) else str(r))
            lines.append(f"{k:<16}{v['gflops']:>10.1f}{rs:>12}")
        lines.append("")
    rows = result.get("training")
    if rows:
        mfu = any("mfu_bf16_peak" in r for r in rows)
        head = (
            f"{'case':<15}{'variant':<18}{'img/s':>8}{'s/step':>9}{'GFLOP':>8}"
            f"{'GFLOP/s':>9}{'of conv':>9}{'of mm32':>9}{'peak GiB':>10}{'busy':>6}"
            f"{'vs base':>9}"
        )
        lines += [head + ("     MFU" if mfu else ""), "-" * (len(head) + (8 if mfu else 0))]
        for r in rows:
            line = (
                f"{r['case']:<15}{r['variant']:<18}{r['images_per_s']:>8.2f}"
                f"{r['step_s']:>9.3f}{_fmt(r['gflop_per_step'], '.1f'):>8}"
                f"{_fmt(r['gflops'], '.1f'):>9}{_fmt(r.get('of_conv_ceiling'), '.0%'):>9}"
                f"{_fmt(r.get('of_matmul_fp32'), '.0%'):>9}"
                f"{r['peak_memory_bytes'] / GIB:>10.2f}{r['threads_busy']:>6.1f}"
                f"{_fmt(r.get('speedup_vs_baseline'), '.2f'):>8}x"
            )
            if mfu:
                line += f"{_fmt(r.get('mfu_bf16_peak'), '.1%'):>8}"
            lines.append(line)
        kinds = sorted({r["memory_kind"] for r in rows})
        p = REFERENCE["pix2pix_unet128_b16_128px"]
        lines += [
            f"peak memory: {', '.join(kinds)}; 'of conv': of the 3x3 conv ceiling at the "
            "same precision and layout; 'of mm32': of the fp32 matmul ceiling; 'busy': CPU "
            "seconds per wall second of the timed steps (below the thread count: other "
            "processes took the cores); 'vs base': images/s over the fp32+baseline row of "
            "the same case (PyTorch's defaults, without cg's CPU fast paths)",
            f"reference-128 in the reference implementation: {p['images_per_s'][0]}-"
            f"{p['images_per_s'][1]} img/s, {p['gflop_per_iter']} GFLOP/step, "
            f"~{p['gflops']} GFLOP/s (targets: fp32 >= 9.1 img/s, bf16 >= 15.2 img/s)",
            "",
        ]
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
    return "\n".join(lines).rstrip() + "\n"


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
        f"(target >= {REFERENCE['targets']['data_over_training']:.0f}x)"
    ]
