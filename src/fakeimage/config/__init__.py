"""Typed settings from params.yaml: the one place configuration is read.

Every stage calls :func:`load_params`. Unknown keys, wrong types and out-of-range values are
rejected with one line that names the key, so a typo never silently falls back to a default.

- `params`: the sections of params.yaml as strict, frozen pydantic models (`checks.Section`)
  whose fields declare their ranges;
- `sources`: `data.source`, one model per kind of source, told apart by its `kind`;
- `augment`: `train.augment`, the flips, crops and degradations of training images;
- `zoo`: the generators trained here whose samples become FAKE sources;
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
    LearnParams,
    ModelParams,
    Optimizer,
    Params,
    PromoteMetric,
    PromoteParams,
    Schedule,
    Stem,
    Strategy,
    ThresholdPolicy,
    TrackingParams,
    TrainParams,
)
from fakeimage.config.sources import (
    ArchiveSource,
    EmbeddedSource,
    FolderSource,
    KaggleSource,
    Source,
    SyntheticSource,
    UrlSource,
)
from fakeimage.config.zoo import Family, GeneratorParams, ZooParams

__all__ = [
    "Arch",
    "ArchiveSource",
    "AugmentParams",
    "BlurParams",
    "ColorParams",
    "CropParams",
    "DataParams",
    "EmbeddedSource",
    "EvaluateParams",
    "Family",
    "FolderSource",
    "GeneratorParams",
    "JpegParams",
    "KaggleSource",
    "LearnParams",
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
    "SyntheticSource",
    "ThresholdPolicy",
    "TrackingParams",
    "TrainParams",
    "UrlSource",
    "ZooParams",
    "load_params",
    "params_to_dict",
    "parse_params",
]
