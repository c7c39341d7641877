"""Typed settings from params.yaml: the one place configuration is read.

Every stage calls :func:`load_params`. Unknown keys, wrong types and out-of-range values are
rejected with one line that names the key, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

import yaml

from fakeimage.errors import UserError

Source = Literal["embedded", "synthetic", "kaggle", "url", "archive", "folder"]
Arch = Literal["seed_cnn", "fidelity_net", "fidelity_se_net"]
Stem = Literal["full", "space_to_depth"]
Optimizer = Literal["adam", "adamw", "sgd"]
Schedule = Literal["constant", "cosine", "one_cycle"]
Strategy = Literal["default", "mirrored", "multi_worker_mirrored"]
ThresholdPolicy = Literal["fixed", "max_accuracy", "max_f1", "youden"]
PromoteMetric = Literal["val_accuracy", "val_roc_auc", "val_loss"]


@dataclass(frozen=True)
class SyntheticParams:
    """A stand-in made on the spot: crops of bundled photographs vs. a small VAE's samples."""

    train_per_class: int = 1000
    test_per_class: int = 250
    generator_epochs: int = 40
    seed: int = 0

    def __post_init__(self) -> None:
        _require(self.train_per_class >= 10, "data.synthetic.train_per_class must be >= 10")
        _require(self.test_per_class >= 2, "data.synthetic.test_per_class must be >= 2")
        _require(self.generator_epochs >= 1, "data.synthetic.generator_epochs must be >= 1")


@dataclass(frozen=True)
class DataParams:
    source: Source = "embedded"
    path: str | None = None
    url: str | None = None
    sha256: str | None = None
    kaggle_dataset: str = "birdy654/cifake-real-and-ai-generated-synthetic-images"
    max_extract_mb: int = 2048
    max_bad_fraction: float = 0.01
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    split_seed: int = 42
    synthetic: SyntheticParams = field(default_factory=SyntheticParams)

    def __post_init__(self) -> None:
        _require(0 <= self.max_bad_fraction <= 1, "data.max_bad_fraction must be in [0, 1]")
        _require(0 < self.val_fraction < 0.5, "data.val_fraction must be in (0, 0.5)")
        _require(0 < self.test_fraction < 0.5, "data.test_fraction must be in (0, 0.5)")
        _require(self.max_extract_mb > 0, "data.max_extract_mb must be > 0")


@dataclass(frozen=True)
class ModelParams:
    arch: Arch = "seed_cnn"
    width: int = 32
    depth: int = 1
    stem: Stem = "full"
    dropout: float = 0.5

    def __post_init__(self) -> None:
        # TF 2.21's oneDNN kernels crash on the fidelity nets' gradients below width 12.
        _require(self.width >= 12, "model.width must be >= 12")
        _require(1 <= self.depth <= 8, "model.depth must be in [1, 8]")
        _require(0 <= self.dropout < 1, "model.dropout must be in [0, 1)")


def _require_range(
    bounds: tuple[float, float], low: float, high: float, key: str, what: str = "values"
) -> None:
    _require(
        len(bounds) == 2 and low <= bounds[0] <= bounds[1] <= high,
        f"train.augment.{key} must be [min, max] {what} with {low:g} <= min <= max <= {high:g}",
    )


def _require_probability(p: float, key: str) -> None:
    _require(0 <= p <= 1, f"train.augment.{key}.p must be in [0, 1]")


@dataclass(frozen=True)
class JpegParams:
    """Re-encoding as JPEG at a quality drawn from [min, max]."""

    p: float = 0.0
    quality: tuple[int, int] = (30, 95)

    def __post_init__(self) -> None:
        _require_probability(self.p, "jpeg")
        _require_range(self.quality, 1, 100, "jpeg.quality", "qualities")


ResizeFilter = Literal["bilinear", "bicubic", "area", "lanczos3"]


@dataclass(frozen=True)
class ResizeParams:
    """Shrinking by a factor drawn from `scale`, then enlarging back, with one of `filters`."""

    p: float = 0.0
    scale: tuple[float, float] = (0.5, 0.9)
    filters: tuple[ResizeFilter, ...] = ("bilinear", "bicubic", "area")

    def __post_init__(self) -> None:
        _require_probability(self.p, "resize")
        _require_range(self.scale, 0.125, 1, "resize.scale", "factors")
        _require(len(self.filters) >= 1, "train.augment.resize.filters must name a filter")


@dataclass(frozen=True)
class BlurParams:
    """Gaussian blur with a radius (standard deviation, pixels) drawn from [min, max]."""

    p: float = 0.0
    radius: tuple[float, float] = (0.3, 1.2)

    def __post_init__(self) -> None:
        _require_probability(self.p, "blur")
        _require_range(self.radius, 0.05, 1.33, "blur.radius", "radii")


@dataclass(frozen=True)
class NoiseParams:
    """Gaussian noise with a standard deviation (0..255 levels) drawn from [min, max]."""

    p: float = 0.0
    sigma: tuple[float, float] = (1.0, 10.0)

    def __post_init__(self) -> None:
        _require_probability(self.p, "noise")
        _require_range(self.sigma, 0, 64, "noise.sigma", "levels")


@dataclass(frozen=True)
class CropParams:
    """A square of a fraction of the side drawn from [min, max], enlarged back to 32x32."""

    p: float = 0.0
    fraction: tuple[float, float] = (0.75, 0.95)

    def __post_init__(self) -> None:
        _require_probability(self.p, "crop")
        _require_range(self.fraction, 0.25, 1, "crop.fraction", "fractions")


@dataclass(frozen=True)
class ColorParams:
    """Brightness and contrast scaled by factors drawn from 1 +/- each amount."""

    p: float = 0.0
    brightness: float = 0.2
    contrast: float = 0.2

    def __post_init__(self) -> None:
        _require_probability(self.p, "color")
        _require(0 <= self.brightness < 1, "train.augment.color.brightness must be in [0, 1)")
        _require(0 <= self.contrast < 1, "train.augment.color.contrast must be in [0, 1)")


@dataclass(frozen=True)
class AugmentParams:
    """Flips and padded crops (which move pixels without resampling them) and, each with its
    own probability, the degradations real uploads suffer (see fakeimage.training.degrade)."""

    flip: bool = True
    crop_padding: int = 2
    jpeg: JpegParams = field(default_factory=JpegParams)
    resize: ResizeParams = field(default_factory=ResizeParams)
    blur: BlurParams = field(default_factory=BlurParams)
    noise: NoiseParams = field(default_factory=NoiseParams)
    crop: CropParams = field(default_factory=CropParams)
    color: ColorParams = field(default_factory=ColorParams)

    def __post_init__(self) -> None:
        _require(0 <= self.crop_padding <= 8, "train.augment.crop_padding must be in [0, 8]")


@dataclass(frozen=True)
class TrainParams:
    epochs: int = 10
    batch_size: int = 64
    optimizer: Optimizer = "adam"
    learning_rate: float = 0.001
    weight_decay: float = 0.0
    schedule: Schedule = "constant"
    label_smoothing: float = 0.0
    patience: int = 5
    seed: int = 42
    strategy: Strategy = "default"
    mixed_precision: bool = False
    jit_compile: bool = False
    init_from: str | None = None
    augment: AugmentParams = field(default_factory=AugmentParams)

    def __post_init__(self) -> None:
        _require(self.epochs >= 1, "train.epochs must be >= 1")
        _require(self.batch_size >= 1, "train.batch_size must be >= 1")
        _require(self.learning_rate > 0, "train.learning_rate must be > 0")
        _require(self.weight_decay >= 0, "train.weight_decay must be >= 0")
        _require(0 <= self.label_smoothing < 0.5, "train.label_smoothing must be in [0, 0.5)")
        _require(self.patience >= 1, "train.patience must be >= 1")


@dataclass(frozen=True)
class TrackingParams:
    experiment: str = "fake-image-detector"


@dataclass(frozen=True)
class EvaluateParams:
    threshold_policy: ThresholdPolicy = "max_accuracy"
    fixed_threshold: float = 0.5
    flip_tta: bool = False
    calibration_bins: int = 15

    def __post_init__(self) -> None:
        _require(0 < self.fixed_threshold < 1, "evaluate.fixed_threshold must be in (0, 1)")
        _require(self.calibration_bins >= 2, "evaluate.calibration_bins must be >= 2")


@dataclass(frozen=True)
class PromoteParams:
    metric: PromoteMetric = "val_accuracy"
    model_name: str = "fake-image-detector"
    alias: str = "champion"
    min_unseen_images: int = 200

    def __post_init__(self) -> None:
        _require(self.min_unseen_images >= 20, "promote.min_unseen_images must be >= 20")


@dataclass(frozen=True)
class Params:
    data: DataParams = field(default_factory=DataParams)
    model: ModelParams = field(default_factory=ModelParams)
    train: TrainParams = field(default_factory=TrainParams)
    mlflow: TrackingParams = field(default_factory=TrackingParams)
    evaluate: EvaluateParams = field(default_factory=EvaluateParams)
    promote: PromoteParams = field(default_factory=PromoteParams)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise UserError(f"params.yaml: {message}")


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and validate params.yaml; raise UserError with one line on any problem."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path} not found: run from the project root, or pass --params PATH")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise UserError(f"{path} is not valid YAML{where}: fix its syntax") from None
    return parse_params(raw)


def parse_params(raw: Any) -> Params:
    """Build :class:`Params` from a parsed mapping (params.yaml's content)."""
    return _build(Params, raw, "")


def params_to_dict(params: Params | dict[str, Any]) -> dict[str, Any]:
    """Flatten params (or their nested dict) into dotted keys, as MLflow logs them."""
    flat: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else key, inner)
        else:
            flat[prefix] = value

    walk("", params if isinstance(params, dict) else dataclasses.asdict(params))
    return flat


def _build(cls: type, raw: Any, where: str) -> Any:
    label = where or "the top level"
    if not isinstance(raw, dict):
        raise UserError(f"params.yaml: {label} must be a mapping, got {type(raw).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - fields, key=str)
    if unknown:
        key = f"{where}.{unknown[0]}" if where else str(unknown[0])
        raise UserError(
            f"params.yaml: unknown key '{key}' (known here: {', '.join(sorted(fields))})"
        )
    values = {}
    for name, value in raw.items():
        key = f"{where}.{name}" if where else name
        values[name] = _coerce(hints[name], value, key)
    return cls(**values)


def _coerce(hint: Any, value: Any, key: str) -> Any:
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, key)
    if origin is Literal:
        choices = typing.get_args(hint)
        if value not in choices:
            options = ", ".join(repr(c) for c in choices)
            raise UserError(f"params.yaml: {key} is {value!r}; expected one of {options}")
        return value
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise UserError(f"params.yaml: {key} must be a list, got {type(value).__name__}")
        args = typing.get_args(hint)
        kinds = [args[0]] * len(value) if len(args) == 2 and args[1] is Ellipsis else list(args)
        if len(kinds) != len(value):
            raise UserError(f"params.yaml: {key} must hold {len(kinds)} values, got {len(value)}")
        return tuple(
            _coerce(kind, item, f"{key}[{i}]")
            for i, (kind, item) in enumerate(zip(kinds, value, strict=True))
        )
    if origin in (Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(inner[0], value, key)
    if hint is bool:
        ok = isinstance(value, bool)
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif hint is float:
        if isinstance(value, str):  # YAML 1.1 reads 1e-05 (as `dvc exp run -S` writes) as text
            value = _parse_float(value)
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif hint is str:
        ok = isinstance(value, str)
    else:  # pragma: no cover - a new field type needs a branch here
        raise TypeError(f"unsupported params type {hint!r} for {key}")
    if not ok:
        raise UserError(
            f"params.yaml: {key} must be {hint.__name__}, got {type(value).__name__} {value!r}"
        )
    return value


def _parse_float(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text
