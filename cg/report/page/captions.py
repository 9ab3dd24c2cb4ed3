"""The report's figures (R7): number, fixed file name and caption of each, written once.

:data:`FIGURES` lists them in the report's order; :func:`cg.report.page.figures.publish` saves a
figure under its file name and shows it with its caption. Figure ``A1`` is an addition (the
cycle-loss-only ablation, R2); its label says so.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FigureSpec:
    """One figure of the report: its number (``"A1"`` for additions), file name, caption."""

    key: str
    file: str
    caption: str
    notebook: str

    @property
    def label(self) -> str:
        return f"Figure {self.key}" if self.key.isdigit() else f"Figure {self.key} (added)"


_SAMPLES = "In each row the model's output is on the left and the source image on the right"
_SPLITS = f"{_SAMPLES}; top: training images, bottom: validation images."
_PE = "pixel error (mean squared error per pixel, images in [0, 1]) on the validation split"
_FB = 'the discriminator\'s mean probability "real" for generated images'

FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec(
        "1",
        "fig01_unet_architecture.png",
        "U-Net based generator architecture (R1), "
        "traced from the model: DoubleConv blocks, 2×2 max-pool down, upsampling with "
        "skip connections, 1×1 output convolution and tanh.",
        "architecture",
    ),
    FigureSpec(
        "2",
        "fig02_patchgan_architecture.png",
        "Patch-based discriminator architecture "
        "(R1), traced from the model; a sigmoid per patch, averaged into the "
        "discriminator's feedback.",
        "architecture",
    ),
    FigureSpec(
        "3",
        "fig03_cityscapes_pixel_error_noadv.png",
        f"Cityscapes, model without "
        f"adversarial loss: {_PE} against the epoch, for city reconstruction and "
        "segmentation respectively.",
        "cityscapes",
    ),
    FigureSpec(
        "4",
        "fig04_cityscapes_pixel_error_adv.png",
        f"Cityscapes, model with "
        f"adversarial loss: {_PE} against the epoch, for city reconstruction and "
        "segmentation respectively.",
        "cityscapes",
    ),
    FigureSpec(
        "5",
        "fig05_cityscapes_feedback_adv.png",
        f"Cityscapes, model with adversarial "
        f"loss: {_FB} on the validation split against the epoch, for city "
        "reconstruction and segmentation.",
        "cityscapes",
    ),
    FigureSpec(
        "6",
        "fig06_cityscapes_segmentation_noadv.png",
        f"Cityscapes segmentation (photo → label map), model without adversarial loss. {_SPLITS}",
        "cityscapes",
    ),
    FigureSpec(
        "7",
        "fig07_cityscapes_segmentation_adv.png",
        f"Cityscapes segmentation (photo → label map), model with adversarial loss. {_SPLITS}",
        "cityscapes",
    ),
    FigureSpec(
        "8",
        "fig08_cityscapes_city_noadv.png",
        "Cityscapes city generation from "
        f"segmentation (label map → photo), model without adversarial loss. {_SPLITS}",
        "cityscapes",
    ),
    FigureSpec(
        "9",
        "fig09_cityscapes_city_adv.png",
        "Cityscapes city generation from "
        f"segmentation (label map → photo), model with adversarial loss. {_SPLITS}",
        "cityscapes",
    ),
    FigureSpec(
        "10",
        "fig10_edges2shoes_pixel_error_noadv.png",
        f"edges2shoes, model without "
        f"adversarial loss: {_PE} against the epoch, for the shoe's edges and the shoe "
        "itself respectively.",
        "edges2shoes",
    ),
    FigureSpec(
        "11",
        "fig11_edges2shoes_pixel_error_adv.png",
        f"edges2shoes, model with "
        f"adversarial loss: {_PE} against the epoch, for the shoe's edges and the shoe "
        "itself respectively.",
        "edges2shoes",
    ),
    FigureSpec(
        "12",
        "fig12_edges2shoes_feedback_adv.png",
        f"edges2shoes, model with "
        f"adversarial loss: {_FB} on the validation split against the epoch, for the "
        "shoe's edges and the shoe.",
        "edges2shoes",
    ),
    FigureSpec(
        "13",
        "fig13_edges2shoes_shoe2edges_noadv.png",
        f"Edges from a shoe photo, model without adversarial loss. {_SPLITS}",
        "edges2shoes",
    ),
    FigureSpec(
        "14",
        "fig14_edges2shoes_shoe2edges_adv.png",
        f"Edges from a shoe photo, model with adversarial loss. {_SPLITS}",
        "edges2shoes",
    ),
    FigureSpec(
        "15",
        "fig15_edges2shoes_edges2shoe_noadv.png",
        f"A shoe from its edges, model without adversarial loss. {_SPLITS}",
        "edges2shoes",
    ),
    FigureSpec(
        "16",
        "fig16_edges2shoes_edges2shoe_adv.png",
        f"A shoe from its edges, model with adversarial loss. {_SPLITS}",
        "edges2shoes",
    ),
    FigureSpec(
        "17",
        "fig17_face2simpson_feedback_train.png",
        f"face2simpson (unpaired): {_FB}"
        " on the training split against the epoch, for human from Simpson and Simpson "
        "from human.",
        "face2simpson",
    ),
    FigureSpec(
        "18",
        "fig18_face2simpson_feedback_val.png",
        f"face2simpson (unpaired): {_FB} "
        "on the validation split against the epoch, for human from Simpson and Simpson "
        "from human.",
        "face2simpson",
    ),
    FigureSpec(
        "19",
        "fig19_face2simpson_human2simpson.png",
        "Simpsons generated from humans; "
        "left generated, right the source; validation images chosen at random. The "
        "report's survey gave these a mean mark of 6.55 (R8).",
        "face2simpson",
    ),
    FigureSpec(
        "20",
        "fig20_face2simpson_simpson2human.png",
        "Humans generated from Simpsons; "
        "left generated, right the source; validation images chosen at random. The "
        "report's survey gave these a mean mark of 3.3 (R8).",
        "face2simpson",
    ),
    FigureSpec(
        "A1",
        "figA1_cityscapes_cycle_only_collapse.png",
        "Not a figure of the report "
        "(R2, R9.5): mean |G(x) − x| on the validation split against the epoch for the "
        "model trained with the cycle loss alone (no identity, no adversarial loss) and "
        "the model without adversarial loss; near 0 means the generator copies its "
        "input.",
        "cityscapes",
    ),
    *(
        FigureSpec(
            key,
            f"fig{key}_{dataset}_findings_by_seed.png",
            f"Not a figure of the report (R10): {dataset}, each finding's statistic per "
            "training seed (dots), their mean with its 95% Student t interval over the seeds "
            "(bar), and the line the claim draws (dashed; for R9.2-equal the ±15% band). "
            "The title gives the verdict over the seeds.",
            dataset,
        )
        for key, dataset in (("A2", "cityscapes"), ("A3", "edges2shoes"), ("A4", "face2simpson"))
    ),
)

_BY_KEY = {f.key: f for f in FIGURES}


def spec(key: int | str) -> FigureSpec:
    """The :class:`FigureSpec` of figure ``key`` (3, "3" or "A1")."""
    try:
        return _BY_KEY[str(key)]
    except KeyError:
        raise KeyError(f"no figure {key!r}; the report has {', '.join(_BY_KEY)}") from None
