"""The configuration: defaults from the report, presets, validation, JSON round trip."""

import dataclasses

import pytest

from cg.config import PRESETS, TrainConfig, config_from_dict, make_config
from cg.errors import UserError


def test_defaults_are_the_reports():
    cfg = TrainConfig()
    assert (cfg.batch_size, cfg.lr, cfg.beta1, cfg.beta2) == (16, 2e-4, 0.5, 0.999)  # R3
    assert (cfg.lambda_cycle, cfg.lambda_identity, cfg.lambda_adv) == (10, 5, 1)  # R2
    assert (cfg.generator, cfg.upsample, cfg.base_channels) == ("unet", "bilinear", 64)  # R1
    assert cfg.gan_mode == "bce" and cfg.identity == "paired"


def test_face2simpson_preset_has_r6_crops():
    cfg = make_config("face2simpson")
    assert (cfg.crop_scale_a, cfg.crop_scale_b, cfg.paired) == (0.55, 0.95, False)
    assert cfg.preset == "face2simpson" and cfg.identity == "classic"
    assert set(PRESETS) == {"cityscapes", "edges2shoes", "face2simpson"}


def test_overrides_win_over_preset():
    assert make_config("cityscapes", epochs=3).epochs == 3


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"image_size": 50}, "divisible by 16"),
        ({"batch_size": 0}, "batch_size=0"),
        ({"generator": "vgg"}, "generator='vgg'"),
        ({"nonsense": 1}, "unknown configuration key 'nonsense'"),
        ({"paired": False, "identity": "paired"}, "needs paired data"),
        ({"crop_scale_a": 0.0}, "crop_scale_a"),
        ({"lr": float("nan")}, "lr=nan"),
        ({"epochs": "3"}, "must be an integer"),
        ({"lr_decay_epochs": 20, "epochs": 10}, "lr_decay_epochs=20"),
        ({"objective": "pix2pix", "paired": False, "identity": "none"}, "pix2pix"),
    ],
)
def test_bad_values_are_user_errors_naming_the_value(overrides, message):
    with pytest.raises(UserError, match=message):
        make_config(**overrides)


def test_unknown_preset():
    with pytest.raises(UserError, match="unknown preset 'horses'"):
        make_config("horses")


def test_round_trip_through_dict():
    cfg = make_config("edges2shoes", data="/x", epochs=2, lr=1e-3)
    assert config_from_dict(cfg.to_dict()) == cfg
    assert dataclasses.asdict(cfg)["lr"] == 1e-3


@pytest.mark.parametrize(
    ("overrides", "want"),
    [
        ({"norm": "batch", "batch_size": 8}, True),  # oneDNN's fast path, BatchNorm's cl kernel
        ({"norm": "batch", "batch_size": 1}, False),  # small convolutions: the slow path
        ({"norm": "instance", "batch_size": 16}, False),  # instance norm reorders cl batches
        ({"norm": "instance", "batch_size": 16, "channels_last": True}, True),  # as asked
        ({"norm": "batch", "batch_size": 16, "channels_last": False}, False),
    ],
)
def test_channels_last_is_resolved_to_the_faster_layout_once(synth, overrides, want):
    from cg.data import scan_dataset
    from cg.data.loaders import resolve_config
    from cg.runtime import default_channels_last

    data = synth("edges2shoes")
    cfg = make_config("edges2shoes", data=str(data), device="cpu", **overrides)
    resolved = resolve_config(cfg, scan_dataset(data))
    assert resolved.channels_last is want  # a bool in config.json: resume keeps the layout
    assert config_from_dict(resolved.to_dict()).channels_last is want
    assert default_channels_last("cuda", overrides["norm"], 1) is True
