"""``cg bench`` and the fast paths it measures: each must give the same results as the slow way."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from cg.cli import main
from cg.config import make_config

pytestmark = pytest.mark.usefixtures("one_thread")


def test_quick_bench_prints_a_table_and_writes_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    args = [
        "bench",
        "--quick",
        "--out",
        str(out),
        "--cases",
        "report",
        "--precision",
        "fp32,bf16",
        "--layout",
        "nchw",
    ]
    assert main(args) == 0
    table = capsys.readouterr().out
    result = json.loads(out.read_text())
    assert set(result["ceilings"]) == {
        "matmul_fp32",
        "matmul_bf16",
        "conv_fp32_nchw",
        "conv_fp32_cl",
        "conv_bf16_nchw",
        "conv_bf16_cl",
    }
    assert all(c["gflops"] > 0 for c in result["ceilings"].values())
    rows = {r["variant"]: r for r in result["training"]}
    assert list(rows) == ["fp32+baseline", "fp32", "bf16"]  # the baseline first
    assert rows["fp32+baseline"]["speedup_vs_baseline"] == 1.0
    for r in rows.values():
        want = r["images_per_s"] / rows["fp32+baseline"]["images_per_s"]
        assert r["speedup_vs_baseline"] == pytest.approx(want)
    from cg.bench.cases import report_config
    from cg.bench.run import step_flops

    flops = step_flops(report_config(32, 2, base_channels=8, disc_channels=8))
    for r in rows.values():
        assert r["case"] == "report-32" and len(r["step_s_all"]) >= 2
        assert r["gflop_per_step"] == pytest.approx(flops / 1e9)
        assert r["images_per_s"] == pytest.approx(2 / r["step_s"])
        assert r["gflops"] == pytest.approx(r["gflop_per_step"] / r["step_s"])
        ceiling = result["ceilings"][f"conv_{r['precision']}_nchw"]["gflops"]
        assert r["of_conv_ceiling"] == pytest.approx(r["gflops"] / ceiling)
        assert r["peak_memory_bytes"] > 2**20
    (prof,) = result["profile"]  # one step of the case, in the first variant after the baseline
    assert (prof["case"], prof["variant"]) == ("report-32", "fp32")
    kinds = prof["seconds_by_kind"]
    assert sum(kinds.values()) == pytest.approx(prof["profiled_s"])
    assert {"convolution forward", "convolution backward", "batch norm", "optimizer"} <= set(kinds)
    assert 0 < prof["convolution_share"] < 1 and prof["convolution_gflops"] > 0
    assert {d["cache"] for d in result["data"]} == {False, True}
    assert all(d["images"] == 8 and d["images_per_s"] > 0 for d in result["data"])
    assert result["translate"]["images"] == 4 and result["translate"]["images_per_s"] > 0
    assert result["targets"] == {"fp32": 1.2, "bf16": 2.0, "data_over_training": 5.0}
    assert result["epochs"] == [] and "reference" not in result  # no reference case, no file
    assert isinstance(result["machine"]["cpu_native_bf16"], bool)
    needles = ("report-32", "bf16", "conv_fp32_cl", "fp32+baseline", "vs base", "where the time")
    for needle in (*needles, "translate:"):
        assert needle in table


def test_epochs_end_to_end_against_the_measured_reference(tmp_path, capsys):
    """The end-to-end part trains whole epochs of the reference's CycleGAN case with
    cg.train.loop.train; --reference (bench/reference_step.py's JSON) gives the 'vs ref'."""
    ref = tmp_path / "ref.json"
    ref.write_text(
        json.dumps(
            [
                {
                    "config": "cycle_gan",
                    "images_per_s": 0.5,
                    "step_s": 4.0,
                    "batch_size": 2,
                    "image_size": 128,
                    "threads": 2,
                    "cpu": "test CPU",
                }
            ]  # fmt: skip
        )
    )
    out = tmp_path / "bench.json"
    args = ["bench", "--quick", "--cases", "reference-cyclegan", "--parts", "training,epochs"]
    args += ["--variants", "fp32", "--epochs", "3", "--reference", str(ref), "--out", str(out)]
    assert main(args) == 0
    table = capsys.readouterr().out
    result = json.loads(out.read_text())
    (step,) = result["training"]
    (row,) = result["epochs"]
    assert (row["case"], row["variant"], row["epochs_timed"]) == (
        "reference-cyclegan-128",
        "fp32",
        2,
    )
    assert [e["epoch"] for e in row["epochs_all"]] == [1, 2, 3]
    assert row["images_per_epoch"] == 8 and row["validation_images"] == 4
    parts = row["steps_s"] + row["evaluation_s"] + row["samples_s"] + row["checkpoint_s"]
    assert 0 < parts <= row["epoch_s"] * (1 + 1e-9)
    assert row["images_per_s"] == pytest.approx(8 / row["epoch_s"])
    assert row["overhead"] == pytest.approx(1 - row["steps_s"] / row["epoch_s"])
    assert f"{row['images_per_s'] / 0.5:.2f}x" in table  # end to end vs the reference
    assert f"{step['images_per_s'] / 0.5:.2f}x" in table  # the step vs the reference
    assert "epochs end to end" in table and "reference implementation, cycle_gan" in table
    bad = tmp_path / "bad.json"
    bad.write_text('{"not": "rows"}')
    capsys.readouterr()
    assert main(["bench", "--quick", "--parts", "epochs", "--reference", str(bad)]) == 2
    assert str(bad) in capsys.readouterr().err


def test_bench_rejects_bad_lists(capsys):
    assert main(["bench", "--quick", "--layout", "nhwc"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --layout nhwc") and err.count("\n") == 1
    assert main(["bench", "--quick", "--sizes", "a,b"]) == 2
    assert "--sizes" in capsys.readouterr().err


def test_variant_names_round_trip_and_bad_ones_are_errors(capsys):
    from cg.bench.cases import BASELINE, parse_variant, variants

    for name in ("fp32", "bf16+cl", "fp16+cl+compile", "fp32+baseline", "fp32+cl+baseline"):
        assert parse_variant(name).name == name
    assert variants(["fp32", "bf16"], ["nchw"], False)[0] == BASELINE
    assert BASELINE not in variants(["fp32"], ["nchw", "cl"], True, baseline=False)
    assert main(["bench", "--quick", "--variants", "fp32+fast"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: variant 'fp32+fast'") and "+baseline" in err


def test_baseline_session_computes_the_same_steps():
    """tuned=False (PyTorch's defaults: for-loop Adam, no allocator setting, no BatchNorm
    gradient hook) only changes how fast a step runs: same losses, same weights up to the
    rounding of a different Adam kernel."""
    from cg.bench.cases import reference_config, report_config, synthetic_batch
    from cg.train.state import build_session

    cpu = torch.device("cpu")
    small = {"base_channels": 4, "disc_channels": 4}
    for cfg in (
        report_config(32, 2, channels_last=True, **small),
        reference_config(2, **small),
    ):
        runs = []
        for tuned in (True, False):
            s = build_session(cfg, cpu, tuned=tuned)
            batch = synthetic_batch(cfg, cpu)
            losses = [s.step(batch) for _ in range(2)]
            runs.append((losses, s.models.g_ab.state_dict()))
        (fast, w_fast), (base, w_base) = runs
        for a, b in zip(fast, base):
            for k in a:
                assert b[k].item() == pytest.approx(a[k].item(), rel=1e-4), k
        for k, v in w_fast.items():
            if v.is_floating_point():
                torch.testing.assert_close(w_base[k], v, rtol=1e-4, atol=1e-5, msg=k)


def test_ops_are_sorted_into_kinds():
    from cg.bench.run import op_kind

    assert op_kind("aten::convolution_backward") == "convolution backward"
    assert op_kind("aten::mkldnn_convolution") == "convolution forward"
    assert op_kind("aten::native_batch_norm_backward") == "batch norm"
    assert op_kind("aten::_fused_adam_") == "optimizer"
    assert op_kind("aten::cat") == "copies and allocation"
    assert op_kind("aten::leaky_relu_") == "elementwise and other"


def test_reference_step_is_the_reference_work():
    """Equal work: a unet_128 pix2pix step (batch 16, 128 px) is the reference's 339 GFLOP."""
    from cg.bench.cases import reference_config
    from cg.bench.run import step_flops

    assert step_flops(reference_config()) / 1e9 == pytest.approx(338.9, abs=0.05)


def test_conv_ceiling_counts_forward_and_backward():
    from cg.bench.measure import conv_ceiling

    c = conv_ceiling(torch.device("cpu"), batch=2, channels=8, size=16, warmup=1, repeats=2)
    assert c["gflop"] == pytest.approx(3 * 2 * 2 * 8 * 16 * 16 * 8 * 9 / 1e9)


def test_peak_memory_sees_tensors_allocated_inside():
    from cg.bench.measure import PeakMemory, release_memory

    release_memory()  # freed heap goes back to the OS, so new tensors need new pages
    with PeakMemory(torch.device("cpu")) as before:
        pass
    with PeakMemory(torch.device("cpu")) as m:
        x = torch.ones(64 * 2**20 // 4)  # 64 MiB, touched
        del x
    assert m.peak_bytes >= before.peak_bytes + 60 * 2**20 or "ru_maxrss" in m.kind


def test_channels_last_step_matches_contiguous():
    """channels_last (with its BatchNorm gradient hook) computes the same step."""
    from cg.bench.cases import report_config, synthetic_batch
    from cg.train.state import build_session

    cpu = torch.device("cpu")
    losses = {}
    for cl in (False, True):
        cfg = report_config(32, 2, base_channels=4, disc_channels=4, channels_last=cl)
        s = build_session(cfg, cpu)
        batch = synthetic_batch(cfg, cpu)
        losses[cl] = [s.step(batch) for _ in range(2)]
    for a, b in zip(losses[False], losses[True]):
        for k in a:
            assert b[k].item() == pytest.approx(a[k].item(), rel=1e-4), k


def test_cpu_allocator_tuning_applies():
    from cg.runtime import tune_cpu_allocator

    assert tune_cpu_allocator() is True


# --- the in-memory cache and batched augmentation (cg.data.cache) -----------------------------


@pytest.fixture(scope="module")
def datasets(synth) -> dict[str, Path]:
    return {
        "paired": synth("cityscapes", n_train=10, n_val=2, seed=4),
        "unpaired": synth("face2simpson", n_train=7, n_val=2, seed=4),
    }


def test_batched_augmentation_equals_item_by_item():
    from cg.data import CropFlip, apply_augment
    from cg.data.cache import augment_batch

    g = torch.Generator().manual_seed(0)
    pairs = [torch.randint(0, 256, (3, 40, 80), dtype=torch.uint8, generator=g) for _ in range(5)]
    halves = [p[..., 40:] for p in pairs]  # non-contiguous views, as split_pair gives
    whole = [CropFlip(0, 0, 40, 40, bool(i % 2)) for i in range(5)]
    crops = [CropFlip(i, 2 * i, 30, 28 + i, bool(i % 2)) for i in range(5)]
    for params in (whole, crops):
        want = torch.stack([apply_augment(x, p, 32) for x, p in zip(halves, params)])
        assert torch.equal(augment_batch(halves, params, 32), want)


def _epoch(cfg, epoch: int = 1, **pipeline_fields) -> list[dict[str, torch.Tensor]]:
    from cg.data.loaders import build_pipeline
    from cg.train.epoch import epoch_seed

    pipeline = build_pipeline(cfg)
    for k, v in pipeline_fields.items():
        setattr(pipeline, k, v)
    return list(pipeline.train_loader(epoch, epoch_seed(cfg.seed, epoch)))


@pytest.mark.parametrize("kind", ["paired", "unpaired"])
def test_batches_do_not_depend_on_cache_workers_or_ranks(datasets, kind):
    base = {
        "data": str(datasets[kind]),
        "image_size": 32,
        "batch_size": 4,
        "flip": True,
        "paired": kind == "paired",
        "identity": "paired" if kind == "paired" else "classic",
    }
    if kind == "unpaired":
        base.update(crop_scale_a=0.55, crop_scale_b=0.95)
    plain = _epoch(make_config(cache_gib=0.0, **base))
    assert [len(b["a"]) for b in plain] == ([4, 4, 2] if kind == "paired" else [4, 3])
    variants = {
        "cached": _epoch(make_config(cache_gib=1.0, **base)),
        "workers": _epoch(make_config(cache_gib=1.0, num_workers=2, **base)),
    }
    # two ranks: their shares of each global batch, side by side, are the 1-process batch
    ranks = [_epoch(make_config(cache_gib=1.0, **base), rank=r, world_size=2) for r in (0, 1)]
    variants["ranks"] = [{k: torch.cat([r0[k], r1[k]]) for k in r0} for r0, r1 in zip(*ranks)]
    for name, batches in variants.items():
        assert len(batches) == len(plain), name
        for got, want in zip(batches, plain):
            for k in want:
                assert torch.equal(got[k], want[k]), (name, k)
    # the augmentation is random: another epoch gives other batches
    other = _epoch(make_config(cache_gib=0.0, **base), epoch=2)
    assert not all(torch.equal(a["a"], b["a"]) for a, b in zip(other, plain))


def test_cache_is_skipped_when_it_does_not_fit(datasets):
    from cg.data.loaders import build_pipeline

    base = {"data": str(datasets["paired"]), "image_size": 32, "paired": True}
    assert build_pipeline(make_config(cache_gib=1.0, **base)).cached
    assert not build_pipeline(make_config(cache_gib=1e-5, **base)).cached  # 10 KiB < 60 KiB
    assert not build_pipeline(make_config(cache_gib=0.0, **base)).cached


@pytest.mark.parametrize("kind", ["paired", "unpaired"])
def test_evaluation_images_are_held_once_and_unchanged(datasets, kind, monkeypatch):
    from cg.data.cache import HeldItems
    from cg.data.datasets import DomainDataset, PairedDataset
    from cg.data.loaders import build_pipeline

    base = {
        "data": str(datasets[kind]),
        "image_size": 32,
        "batch_size": 3,
        "paired": kind == "paired",
    }
    if kind == "unpaired":
        base["identity"] = "classic"
    plain = build_pipeline(make_config(cache_gib=0.0, **base))
    held = build_pipeline(make_config(cache_gib=1.0, **base))
    reads = []
    for cls in (PairedDataset, DomainDataset):
        monkeypatch.setattr(
            cls, "decode", lambda self, i, _f=cls.decode: reads.append(i) or _f(self, i)
        )
    for split in ("val", "train"):
        assert all(isinstance(d, HeldItems) for d in held.evaluation[split])
        assert not any(isinstance(d, HeldItems) for d in plain.evaluation[split])
        for _ in range(2):  # two epochs' evaluations
            got, want = list(held.eval_batches(split)), list(plain.eval_batches(split))
            assert len(got) == len(want) and len(got) > 0
            for g, w in zip(got, want):
                assert g.keys() == w.keys()
                assert all(torch.equal(g[k], w[k]) for k in w)
        n = len(reads)
        assert n > 0  # the plain pipeline read its images from disk each time
        list(held.eval_batches(split))
        assert len(reads) == n  # held: nothing read from disk again
    assert held.val_files("a") == plain.val_files("a") and held.val_files("b") == plain.val_files(
        "b"
    )
    assert held.val_files("a")
    # a budget the evaluation images do not fit in leaves them on disk
    small = build_pipeline(make_config(cache_gib=1e-5, **base))
    assert not any(isinstance(d, HeldItems) for d in small.evaluation["val"])


def test_evaluation_metrics_do_not_depend_on_the_evaluation_batch(datasets):
    from cg.data.loaders import EVAL_BATCH, build_pipeline
    from cg.eval.metrics import evaluate
    from cg.models import build_generator

    cfg = make_config(
        data=str(datasets["paired"]), image_size=32, batch_size=1, base_channels=4, paired=True
    )
    pipeline = build_pipeline(cfg)
    n = sum(len(b["a"]) for b in pipeline.eval_batches("val"))
    assert n > 1 and next(pipeline.eval_batches("val"))["a"].shape[0] == min(EVAL_BATCH, n)
    torch.manual_seed(0)
    g_ab, g_ba = build_generator(cfg), build_generator(cfg)
    with torch.no_grad():  # running statistics away from their initial 0 and 1
        for m in [*g_ab.modules(), *g_ba.modules()]:
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
    rows = {
        bs: evaluate(
            pipeline.eval_batches("val", bs),
            g_ab=g_ab,
            g_ba=g_ba,
            d_a=None,
            d_b=None,
            device=torch.device("cpu"),
            paired=True,
            split="val",
        )
        for bs in (1, 3, None)
    }
    assert rows[None]["pixel_error_ab_val"] > 0
    for bs in (1, 3):
        assert rows[bs].keys() == rows[None].keys()
        for k, v in rows[None].items():
            assert rows[bs][k] == pytest.approx(v, rel=1e-5), (bs, k)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without GPU")
def test_gpu_script_refuses_without_a_gpu(tmp_path):
    import subprocess
    import sys

    script = Path(__file__).resolve().parents[1] / "bench" / "gpu.sh"
    env = {"PATH": "/usr/bin:/bin", "PYTHON": sys.executable}
    done = subprocess.run(
        ["bash", str(script), "results"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode != 0
    assert "error: bench/gpu.sh needs a CUDA GPU" in done.stderr
    assert (tmp_path / "results").is_dir() and not any((tmp_path / "results").iterdir())


def test_reference_step_script_names_a_bad_checkout(tmp_path):
    """bench/reference_step.py imports the reference from --repo; anything else is named."""
    script = Path(__file__).resolve().parents[1] / "bench" / "reference_step.py"
    for repo in (tmp_path / "missing", tmp_path):
        done = subprocess.run(
            [sys.executable, str(script), "--repo", str(repo)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode != 0
        assert f"--repo {repo}" in done.stderr and "pytorch-CycleGAN-and-pix2pix" in done.stderr


def test_bench_grid_part_times_layouts_side_by_side(capsys):
    """The grid part: the report's step in several layouts (runs x threads) at once, each
    layout's seed-steps per second, and the layout cg report's rule picks."""
    from cg.bench.grid import layouts, measure_grid

    assert layouts(2) == [(1, 2), (1, 1), (2, 1)]
    assert (4, 2) in layouts(8) and (2, 4) in layouts(8)
    rows = measure_grid(((32, 4, 4),), cores=2, warmup=1, seconds=0.5)
    (row,) = rows
    assert [(x["runs"], x["threads"]) for x in row["layouts"]] == layouts(2)
    for x in row["layouts"]:
        assert len(x["step_ms"]) == x["runs"] and all(m > 0 for m in x["step_ms"])
        expected = sum(1e3 / m for m in x["step_ms"])
        assert x["seed_steps_per_s"] == pytest.approx(expected)
    assert row["rule"] == [2, 1] and row["fastest"] in ([1, 2], [1, 1], [2, 1])
    from cg.bench.table import format_table

    text = format_table(
        {"machine": {"device": "cpu", "cpu": "x", "threads": 2, "torch": "t"}, "repeats": 1,
         "seconds": 1, "warmup": 1, "rounds": 1, "grid": rows}
    )  # fmt: skip
    assert "seed-steps/s" in text and "2x1:" in text


def test_stacked_seeds_step_as_the_separate_networks_do():
    """The stacking part compares equal work: from the same weights and batches, one stacked
    step gives every seed the gradients its own network's step does (float tolerance: grouped
    against plain convolutions), and moves the weights alike."""
    from cg.bench.stacking import build, measure_stacking

    separate, stacked, nets, params = build(32, 4, 2, 3)
    before = {k: v.detach().clone() for k, v in params.items()}
    separate()
    stacked()
    for name, value in params.items():
        for i, net in enumerate(nets):
            own = dict(net.named_parameters())[name]
            assert torch.allclose(value.grad[i], own.grad, rtol=1e-3, atol=1e-6), name
            moved = (value[i] - before[name][i]).detach()
            assert torch.allclose(moved, (own - before[name][i]).detach(), atol=2e-3), name
    row = measure_stacking(32, 4, 2, 2, seconds=0.05)
    assert row["separate_seed_steps_per_s"] > 0 and row["stacked_seed_steps_per_s"] > 0
    assert row["speedup"] == pytest.approx(
        row["stacked_seed_steps_per_s"] / row["separate_seed_steps_per_s"]
    )
