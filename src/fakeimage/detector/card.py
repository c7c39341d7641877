"""The model card: everything known about one detector, as one typed, exactly round-tripping record.

The train stage starts it (architecture, parameters, data, training), the evaluate stage adds
the evaluation (threshold, metrics, robustness), promote adds the registry version, alias and
lineage. It travels as `card.json` in every model folder and under `detector/` in the MLflow
run; evaluation, promotion, serving, the page and the Markdown renderer all read this class.
"""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, ConfigDict, ValidationError

from fakeimage.config import Params
from fakeimage.errors import UserError
from fakeimage.records import replace

SYNTHETIC_SOURCE = "synthetic"


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    def replace(self, **changes: Any) -> Self:
        """A copy with `changes`, validated as a new record (`model_copy(update=)` is not)."""
        return replace(self, **changes)


class Scores(_Record):
    """Classification metrics on one split at one threshold (FAKE = positive)."""

    n: int
    threshold: float
    accuracy: float
    precision: float
    recall: float
    f1: float
    roc_auc: float | None
    pr_auc: float | None
    log_loss: float
    ece: float
    confusion_matrix: list[list[int]]


class Calibration(_Record):
    """Platt scaling of the network's logit, fitted on validation: P = sigmoid(a * logit + b).

    Monotone (a > 0), so it changes what a probability means, never which image is more fake.
    """

    scale: float
    bias: float
    ece_before: float
    """Expected calibration error of the raw probabilities on validation."""
    ece_after: float


class UncertaintyRule(_Record):
    """When an answer says `uncertain`: chosen on validation (see models.uncertainty)."""

    band: list[float]
    """[low, high]: calibrated P(fake) strictly inside it is too close to call."""
    min_detail: float
    """Fine-detail energy (grey levels) below which the 32x32 input is too smooth to judge."""
    max_distance: float
    """Mahalanobis distance of the network's features to the training images' beyond which
    an image is unlike anything the model learnt."""
    feature_file: str
    """The feature statistics (per-source means, shared precision) in the model folder."""
    val_share: float
    """Share of validation images the whole rule marks uncertain."""
    val_shares: dict[str, float]
    """Share of validation images each reason alone marks."""


class Selective(_Record):
    """Answers when uncertain ones are set aside: coverage and accuracy of the certain ones."""

    n: int
    coverage: float
    certain_accuracy: float
    uncertain_accuracy: float | None


class SourceScores(_Record):
    """How a detector does on the test images of one source (REAL, FAKE/sd14, FAKE/dcgan)."""

    n: int
    accuracy: float
    """The share answered with the source's class (its recall)."""
    uncertain: float
    """The share answered uncertain."""
    confidently_wrong: float
    """The share answered the other class without being marked uncertain."""
    certain_accuracy: float | None
    """Accuracy on the answers not marked uncertain (None when all were)."""


class Evaluation(_Record):
    """What the evaluate stage measured, and the decision rule it chose on validation."""

    threshold: float
    """On calibrated P(fake) when `calibration` is set, else on the network's output."""
    threshold_policy: str
    flip_tta: bool
    val: Scores
    test: Scores
    robustness: dict[str, dict[str, float]]
    calibration: Calibration | None = None
    uncertainty: UncertaintyRule | None = None
    selective: Selective | None = None
    """On the test split, under `uncertainty`."""
    sources: dict[str, SourceScores] | None = None
    """On the test split, per source and in total ("all")."""


class SplitCounts(_Record):
    total: int
    REAL: int
    FAKE: int


class DataRecord(_Record):
    """The data a model was trained on: its source kind, in words, and a fingerprint."""

    source: str
    description: str
    fingerprint: str
    splits: dict[str, SplitCounts]
    trained_sources: dict[str, int] | None = None
    """Training images per source after mixing (REAL, FAKE, FAKE/dcgan, ...): what the model
    learnt from; a source scored but absent here was held out. None on older cards."""

    @property
    def is_real(self) -> bool:
        """Real photographs and a real generator's images, not the synthetic stand-in."""
        return self.source != SYNTHETIC_SOURCE

    @property
    def learnt_sources(self) -> frozenset[str]:
        """The sources it trained on; older cards, which predate per-source records, were
        trained on a plain two-class layout: REAL and FAKE."""
        if self.trained_sources is None:
            return frozenset({"REAL", "FAKE"})
        return frozenset(name for name, count in self.trained_sources.items() if count)


class Architecture(_Record):
    arch: str
    parameters: int
    macs: int


class Training(_Record):
    epochs_run: int
    best_epoch: int
    seconds: float
    images_per_second: float
    hardware: str
    precision_policy: str
    workers: int = 1
    """Training processes (machines) of a multi-worker run; 1 otherwise."""


class TrainingImages(_Record):
    """Where the model's record of training-image hashes lives, and how many it holds."""

    file: str
    count: int


class OnnxExport(_Record):
    """The ONNX graph serving runs, and how closely it matched Keras when it was exported."""

    file: str
    opset: int
    flip_tta: bool
    """Whether the graph itself averages each image with its mirror."""
    parity_images: int
    max_abs_difference: float
    verdict_changes: int
    threshold_ties: int = 0
    """Images scored within the tolerance of the threshold whose verdict rounding flipped."""


class ParentModel(_Record):
    """The model a fine-tuned one started from (`train.init_from`)."""

    location: str
    """The folder or `models:/` URI given to train.init_from."""
    name: str
    version: str
    run_id: str | None = None
    data_source: str | None = None
    data_fingerprint: str | None = None


class Replay(_Record):
    """A fine-tune's rehearsal (`train.replay`): the images per source it took as new (every
    one) and replayed from its parent's sources (a seeded sample)."""

    share: float
    new: dict[str, int]
    replayed: dict[str, int]


class Lineage(_Record):
    """Where a model came from and why it holds (or held) the alias."""

    imported: bool = False
    imported_from: str | None = None
    parent: ParentModel | None = None
    replay: Replay | None = None
    promotion: str | None = None


class ModelCard(_Record):
    name: str
    version: str
    alias: str | None = None
    run_id: str | None = None
    model_uri: str | None = None
    lineage: Lineage = Lineage()
    architecture: Architecture
    params: Params
    """Every setting of the run, as params.yaml held them."""
    data: DataRecord
    training: Training
    training_images: TrainingImages
    evaluation: Evaluation | None = None
    onnx: OnnxExport | None = None
    exported_at: str | None = None
    reproduce: str = "dvc repro"

    @property
    def threshold(self) -> float:
        return self.evaluation.threshold if self.evaluation else 0.5

    @property
    def calibration(self) -> Calibration | None:
        return self.evaluation.calibration if self.evaluation else None

    @property
    def uncertainty(self) -> UncertaintyRule | None:
        return self.evaluation.uncertainty if self.evaluation else None

    @property
    def flip_tta(self) -> bool:
        return self.evaluation.flip_tta if self.evaluation else False

    @property
    def label(self) -> str:
        """How people and answers name this model: `name@version`."""
        return f"{self.name}@{self.version}"

    def to_json(self) -> str:
        return self.model_dump_json(indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str, where: str = "the card") -> ModelCard:
        try:
            return cls.model_validate_json(text)
        except ValidationError as exc:
            first = exc.errors()[0]
            key = ".".join(str(part) for part in first["loc"]) or "the top level"
            raise UserError(
                f"{where}: {key}: {first['msg']} (not a model card of this version)"
            ) from None
