"""Typed settings from params.yaml: the one place configuration is read.

Every stage calls :func:`load_params`. Unknown keys, wrong types and out-of-range values are
rejected with one line that names the key, so a typo never silently falls back to a default.

- `params`: the sections of params.yaml as strict, frozen pydantic models (`checks.Section`);
- `augment`: `train.augment`, the flips, crops and degradations of training images;
- `loader`: reading and checking params.yaml into them.
"""

from fakeimage.config.augment import (
    AugmentParams,
    BlurParams,
    ColorParams,
    CropParams,
    JpegParams,
    NoiseParams,
    ResizeFilter,
    ResizeParams,
)
from fakeimage.config.loader import load_params, params_to_dict, parse_params
from fakeimage.config.params import (
    Arch,
    DataParams,
    EvaluateParams,
    ModelParams,
    Optimizer,
    Params,
    PromoteMetric,
    PromoteParams,
    Schedule,
    Source,
    Stem,
    Strategy,
    SyntheticParams,
    ThresholdPolicy,
    TrackingParams,
    TrainParams,
)

__all__ = [
    "Arch",
    "AugmentParams",
    "BlurParams",
    "ColorParams",
    "CropParams",
    "DataParams",
    "EvaluateParams",
    "JpegParams",
    "ModelParams",
    "NoiseParams",
    "Optimizer",
    "Params",
    "PromoteMetric",
    "PromoteParams",
    "ResizeFilter",
    "ResizeParams",
    "Schedule",
    "Source",
    "Stem",
    "Strategy",
    "SyntheticParams",
    "ThresholdPolicy",
    "TrackingParams",
    "TrainParams",
    "load_params",
    "params_to_dict",
    "parse_params",
]
