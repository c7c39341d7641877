"""The sections of params.yaml as strict, frozen pydantic models.

Ranges are field constraints (`Field(ge=..., lt=...)`); what ties two fields together is a
`model_validator`, whose ValueError text is the whole message. Either way config.loader
turns the failure into one line that names the key.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from fakeimage.config.augment import AugmentParams
from fakeimage.config.checks import Real, Section, Several, first_repeated
from fakeimage.config.sources import EmbeddedSource, Source
from fakeimage.config.zoo import ZooParams

Arch = Literal["seed_cnn", "fidelity_net", "fidelity_se_net", "resnet"]
Stem = Literal["full", "space_to_depth"]
Optimizer = Literal["adam", "adamw", "sgd"]
Schedule = Literal["constant", "cosine", "one_cycle"]
Strategy = Literal["default", "mirrored", "multi_worker_mirrored"]
ThresholdPolicy = Literal["fixed", "max_accuracy", "max_f1", "youden"]
PromoteMetric = Literal["val_accuracy", "val_roc_auc", "val_loss"]

Share = Annotated[Real, Field(ge=0, lt=0.5)]
"""A share of images set aside, below half."""
Carved = Annotated[Real, Field(gt=0, lt=0.5)]
"""A share carved from the training images: some, but less than half."""


def _source_name(name: str) -> str:
    if not re.fullmatch(r"(REAL|FAKE)(/[A-Za-z0-9][A-Za-z0-9_.-]*)?", name):
        raise ValueError(
            f"is {name!r}: name a source as reports/data.json does (REAL, FAKE, "
            "FAKE/<generator>, REAL/<folder>)"
        )
    return name


class SourceWeight(Section):
    """One source of the training mix and its weight (`fakeimage.data.mixing`)."""

    name: Annotated[str, AfterValidator(_source_name)]
    """As reports name it: REAL, FAKE (the source's own top-level images), FAKE/dcgan."""
    weight: Annotated[Real, Field(ge=0, le=100)] = 1.0
    """Times its training images are taken (0: held out, in the test split only)."""


class DataParams(Section):
    source: Source = EmbeddedSource()
    sources: Several[SourceWeight] = ()
    """Weights of the sources the data holds (the fetched data's, the zoo's); unnamed: 1."""
    balance: bool = True
    """Sample the larger class down to the smaller one's size in the training split."""
    max_extract_mb: Annotated[int, Field(gt=0)] = 2048
    """Archive sources (embedded, archive, url, kaggle) refuse to extract more than this."""
    max_bad_fraction: Annotated[Real, Field(ge=0, le=1)] = 0.01
    val_fraction: Carved = 0.1
    test_fraction: Carved = 0.1
    split_seed: int = 42

    @model_validator(mode="after")
    def _each_source_once(self) -> DataParams:
        if repeated := first_repeated([entry.name for entry in self.sources]):
            raise ValueError(f"data.sources names {repeated!r} twice: give it one weight")
        return self

    @property
    def weights(self) -> dict[str, float]:
        return {entry.name: entry.weight for entry in self.sources}


class ModelParams(Section):
    arch: Arch = "seed_cnn"
    # TF 2.21's oneDNN kernels crash on the fidelity nets' gradients below width 12.
    width: Annotated[int, Field(ge=12)] = 32
    depth: Annotated[int, Field(ge=1, le=8)] = 1
    stem: Stem = "full"
    dropout: Annotated[Real, Field(ge=0, lt=1)] = 0.5


class TrainParams(Section):
    epochs: Annotated[int, Field(ge=1)] = 10
    batch_size: Annotated[int, Field(ge=1)] = 64
    optimizer: Optimizer = "adam"
    learning_rate: Annotated[Real, Field(gt=0)] = 0.001
    weight_decay: Annotated[Real, Field(ge=0)] = 0.0
    schedule: Schedule = "constant"
    label_smoothing: Share = 0.0
    patience: Annotated[int, Field(ge=1)] = 5
    seed: int = 42
    strategy: Strategy = "default"
    mixed_precision: bool = False
    jit_compile: bool = False
    init_from: str | None = None
    parent_weight: Annotated[Real, Field(ge=0, lt=1)] = 0.0
    """With init_from: the parent's share in the final weights (0.5: the average of the parent
    and the fine-tuned weights, as WiSE-FT does, trading new skills against old ones)."""
    replay: Annotated[Real, Field(ge=0, lt=1)] | None = None
    """With init_from, rehearsal: train on every image of the sources the parent never trained
    on, plus a seeded sample of those it did making up this share of the set (None: the whole
    training split; 0: the new images alone). See fakeimage.training.rehearsal."""
    augment: AugmentParams = AugmentParams()

    @model_validator(mode="after")
    def _parent_to_mix_in(self) -> TrainParams:
        if self.parent_weight != 0 and self.init_from is None:
            raise ValueError(
                "train.parent_weight needs train.init_from (the parent to mix back in)"
            )
        if self.replay is not None and self.init_from is None:
            raise ValueError(
                "train.replay needs train.init_from (the parent whose training sources to replay)"
            )
        if self.replay is not None and self.strategy == "multi_worker_mirrored":
            raise ValueError(
                "train.replay runs on one machine: set train.strategy to default or mirrored"
            )
        return self


class TrackingParams(Section):
    experiment: str = "fake-image-detector"


class EvaluateParams(Section):
    threshold_policy: ThresholdPolicy = "max_accuracy"
    fixed_threshold: Annotated[Real, Field(gt=0, lt=1)] = 0.5
    max_real_error: Annotated[Real, Field(ge=0, le=1)] | None = 0.03
    """The threshold calls at most this share of REAL validation images FAKE (None: any)."""
    flip_tta: bool = False
    calibration_bins: Annotated[int, Field(ge=2)] = 15
    uncertain_share: Share = 0.03
    unfamiliar_share: Share = 0.005
    smooth_share: Share = 0.005
    feature_images: Annotated[int, Field(ge=100)] = 10000

    @model_validator(mode="after")
    def _limits_fit_the_total(self) -> EvaluateParams:
        if self.unfamiliar_share + self.smooth_share > self.uncertain_share:
            raise ValueError(
                "evaluate.unfamiliar_share + evaluate.smooth_share must not exceed "
                "evaluate.uncertain_share (the band gets what is left)"
            )
        return self


class PromoteParams(Section):
    metric: PromoteMetric = "val_accuracy"
    model_name: str = "fake-image-detector"
    alias: str = "champion"
    min_unseen_images: Annotated[int, Field(ge=20)] = 200
    source_tolerance: Annotated[Real, Field(ge=0, le=1)] = 0.003
    """The most accuracy a challenger may lose on any one source (0.003: 0.3 points), beyond
    which a confident loss keeps the champion (fakeimage.registry.gates)."""
    regression: str | None = "data/feedback"
    """The reported images (REAL|FAKE/<source>/, as POST /feedback keeps them) a challenger
    must judge no worse than the champion (fakeimage.registry.regression); null: none."""


class LearnParams(Section):
    """`fakeimage learn`: the fine-tune that teaches the champion a new generator. The rest of
    the recipe (network, optimiser, augmentation) is the champion's own."""

    replay: Annotated[Real, Field(ge=0, lt=1)] = 0.9
    epochs: Annotated[int, Field(ge=1)] = 20
    learning_rate: Annotated[Real, Field(gt=0)] = 0.0003
    batch_size: Annotated[int, Field(ge=1)] = 64
    schedule: Schedule = "cosine"
    parent_weight: Annotated[Real, Field(ge=0, lt=1)] = 0.0


class Params(Section):
    data: DataParams = DataParams()
    model: ModelParams = ModelParams()
    train: TrainParams = TrainParams()
    mlflow: TrackingParams = TrackingParams()
    evaluate: EvaluateParams = EvaluateParams()
    promote: PromoteParams = PromoteParams()
    zoo: ZooParams = ZooParams()
    learn: LearnParams = LearnParams()
