"""The sections of params.yaml as strict, frozen pydantic models, each checking its ranges."""

from __future__ import annotations

from typing import Any, Literal

from fakeimage.config.augment import AugmentParams
from fakeimage.config.checks import Real, Section
from fakeimage.config.checks import require as _require

Source = Literal["embedded", "synthetic", "kaggle", "url", "archive", "folder"]
Arch = Literal["seed_cnn", "fidelity_net", "fidelity_se_net"]
Stem = Literal["full", "space_to_depth"]
Optimizer = Literal["adam", "adamw", "sgd"]
Schedule = Literal["constant", "cosine", "one_cycle"]
Strategy = Literal["default", "mirrored", "multi_worker_mirrored"]
ThresholdPolicy = Literal["fixed", "max_accuracy", "max_f1", "youden"]
PromoteMetric = Literal["val_accuracy", "val_roc_auc", "val_loss"]


class SyntheticParams(Section):
    """A stand-in made on the spot: crops of bundled photographs vs. a small VAE's samples."""

    train_per_class: int = 1000
    test_per_class: int = 250
    generator_epochs: int = 40
    seed: int = 0

    def model_post_init(self, context: Any) -> None:
        _require(self.train_per_class >= 10, "data.synthetic.train_per_class must be >= 10")
        _require(self.test_per_class >= 2, "data.synthetic.test_per_class must be >= 2")
        _require(self.generator_epochs >= 1, "data.synthetic.generator_epochs must be >= 1")


class DataParams(Section):
    source: Source = "embedded"
    path: str | None = None
    url: str | None = None
    sha256: str | None = None
    kaggle_dataset: str = "birdy654/cifake-real-and-ai-generated-synthetic-images"
    max_extract_mb: int = 2048
    max_bad_fraction: Real = 0.01
    val_fraction: Real = 0.1
    test_fraction: Real = 0.1
    split_seed: int = 42
    synthetic: SyntheticParams = SyntheticParams()

    def model_post_init(self, context: Any) -> None:
        _require(0 <= self.max_bad_fraction <= 1, "data.max_bad_fraction must be in [0, 1]")
        _require(0 < self.val_fraction < 0.5, "data.val_fraction must be in (0, 0.5)")
        _require(0 < self.test_fraction < 0.5, "data.test_fraction must be in (0, 0.5)")
        _require(self.max_extract_mb > 0, "data.max_extract_mb must be > 0")


class ModelParams(Section):
    arch: Arch = "seed_cnn"
    width: int = 32
    depth: int = 1
    stem: Stem = "full"
    dropout: Real = 0.5

    def model_post_init(self, context: Any) -> None:
        # TF 2.21's oneDNN kernels crash on the fidelity nets' gradients below width 12.
        _require(self.width >= 12, "model.width must be >= 12")
        _require(1 <= self.depth <= 8, "model.depth must be in [1, 8]")
        _require(0 <= self.dropout < 1, "model.dropout must be in [0, 1)")


class TrainParams(Section):
    epochs: int = 10
    batch_size: int = 64
    optimizer: Optimizer = "adam"
    learning_rate: Real = 0.001
    weight_decay: Real = 0.0
    schedule: Schedule = "constant"
    label_smoothing: Real = 0.0
    patience: int = 5
    seed: int = 42
    strategy: Strategy = "default"
    mixed_precision: bool = False
    jit_compile: bool = False
    init_from: str | None = None
    parent_weight: Real = 0.0
    """With init_from: the parent's share in the final weights (0.5: the average of the parent
    and the fine-tuned weights, as WiSE-FT does, trading new skills against old ones)."""
    augment: AugmentParams = AugmentParams()

    def model_post_init(self, context: Any) -> None:
        _require(self.epochs >= 1, "train.epochs must be >= 1")
        _require(self.batch_size >= 1, "train.batch_size must be >= 1")
        _require(self.learning_rate > 0, "train.learning_rate must be > 0")
        _require(self.weight_decay >= 0, "train.weight_decay must be >= 0")
        _require(0 <= self.label_smoothing < 0.5, "train.label_smoothing must be in [0, 0.5)")
        _require(self.patience >= 1, "train.patience must be >= 1")
        _require(0 <= self.parent_weight < 1, "train.parent_weight must be in [0, 1)")
        _require(
            self.parent_weight == 0 or self.init_from is not None,
            "train.parent_weight needs train.init_from (the parent to mix back in)",
        )


class TrackingParams(Section):
    experiment: str = "fake-image-detector"


class EvaluateParams(Section):
    threshold_policy: ThresholdPolicy = "max_accuracy"
    fixed_threshold: Real = 0.5
    flip_tta: bool = False
    calibration_bins: int = 15
    uncertain_share: Real = 0.03
    unfamiliar_share: Real = 0.005
    smooth_share: Real = 0.005
    feature_images: int = 10000

    def model_post_init(self, context: Any) -> None:
        _require(0 < self.fixed_threshold < 1, "evaluate.fixed_threshold must be in (0, 1)")
        _require(self.calibration_bins >= 2, "evaluate.calibration_bins must be >= 2")
        for key in ("uncertain_share", "unfamiliar_share", "smooth_share"):
            _require(0 <= getattr(self, key) < 0.5, f"evaluate.{key} must be in [0, 0.5)")
        _require(
            self.unfamiliar_share + self.smooth_share <= self.uncertain_share,
            "evaluate.unfamiliar_share + evaluate.smooth_share must not exceed "
            "evaluate.uncertain_share (the band gets what is left)",
        )
        _require(self.feature_images >= 100, "evaluate.feature_images must be >= 100")


class PromoteParams(Section):
    metric: PromoteMetric = "val_accuracy"
    model_name: str = "fake-image-detector"
    alias: str = "champion"
    min_unseen_images: int = 200

    def model_post_init(self, context: Any) -> None:
        _require(self.min_unseen_images >= 20, "promote.min_unseen_images must be >= 20")


class Params(Section):
    data: DataParams = DataParams()
    model: ModelParams = ModelParams()
    train: TrainParams = TrainParams()
    mlflow: TrackingParams = TrackingParams()
    evaluate: EvaluateParams = EvaluateParams()
    promote: PromoteParams = PromoteParams()
