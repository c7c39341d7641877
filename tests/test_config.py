"""params.yaml is read strictly: unknown keys, wrong types and bad values fail in one line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from fakeimage.config import (
    ArchiveSource,
    DataParams,
    EmbeddedSource,
    KaggleSource,
    Params,
    SyntheticSource,
    load_params,
    params_to_dict,
    parse_params,
)
from fakeimage.errors import UserError

REPO_PARAMS = Path(__file__).resolve().parents[1] / "params.yaml"


def _write(tmp_path: Path, content: Any) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(content if isinstance(content, str) else yaml.safe_dump(content))
    return path


def _error(raw: Any) -> str:
    with pytest.raises(UserError) as caught:
        parse_params(raw)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("params.yaml: ")
    return message


def _flatten(mapping: dict, prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for key, value in mapping.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            keys |= _flatten(value, dotted + ".")
        else:
            keys.add(dotted)
    return keys


def test_the_repository_params_load() -> None:
    params = load_params(REPO_PARAMS)
    assert isinstance(params, Params)
    assert params.data.source == EmbeddedSource()  # the real CIFAKE subset in data/embedded
    assert isinstance(params.train.learning_rate, float)
    assert isinstance(params.train.epochs, int)
    assert isinstance(params.train.augment.flip, bool)


def test_the_repository_params_name_every_setting() -> None:
    """params.yaml is the one place settings live: it lists every field, no more, no less."""
    raw = yaml.safe_load(REPO_PARAMS.read_text())
    assert _flatten(raw) == set(params_to_dict(load_params(REPO_PARAMS)))


def test_empty_file_gives_defaults(tmp_path: Path) -> None:
    assert load_params(_write(tmp_path, "")) == Params()


def test_partial_file_keeps_other_defaults(tmp_path: Path) -> None:
    params = load_params(_write(tmp_path, {"train": {"epochs": 3}}))
    assert params.train.epochs == 3
    assert params.train.batch_size == Params().train.batch_size
    assert params.data == DataParams()


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"dat": {}}, "dat"),
        ({"data": {"sourc": "archive"}}, "data.sourc"),
        ({"data": {"source": {"kind": "synthetic", "seeds": 1}}}, "data.source.seeds"),
        ({"data": {"path": "cifake.zip"}}, "data.path"),  # params.yaml before data.source.kind
        ({"train": {"augment": {"flip": True, "rotate": 10}}}, "train.augment.rotate"),
    ],
)
def test_unknown_keys_are_named(raw: dict, key: str) -> None:
    message = _error(raw)
    assert f"unknown key '{key}'" in message


def test_unknown_key_lists_the_known_ones() -> None:
    message = _error({"data": {"sourc": "archive"}})
    assert "source" in message and "split_seed" in message


def test_unknown_key_in_a_source_lists_that_kind_s_keys() -> None:
    message = _error({"data": {"source": {"kind": "archive", "pth": "a.zip"}}})
    assert message == (
        "params.yaml: unknown key 'data.source.pth' (known here: kind, path, sha256)"
    )  # and not "data.source.path is not set", which the typo also causes


def test_unknown_keys_of_mixed_types_are_a_user_error() -> None:
    _error({"data": {1: "a", "b": 2}})


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ({"data": {"split_seed": "42"}}, "data.split_seed must be int, got str '42'"),
        ({"train": {"epochs": True}}, "train.epochs must be int, got bool True"),
        ({"train": {"epochs": 2.5}}, "train.epochs must be int, got float 2.5"),
        ({"train": {"epochs": None}}, "train.epochs must be int, got NoneType None"),
        ({"train": {"learning_rate": "fast"}}, "train.learning_rate must be float"),
        ({"train": {"learning_rate": False}}, "train.learning_rate must be float, got bool"),
        ({"train": {"mixed_precision": "yes"}}, "train.mixed_precision must be bool"),
        ({"train": {"mixed_precision": 1}}, "train.mixed_precision must be bool, got int"),
        (
            {"data": {"source": {"kind": "archive", "path": 5}}},
            "data.source.path must be str, got int 5",
        ),
        ({"mlflow": {"experiment": ["a"]}}, "mlflow.experiment must be str, got list"),
    ],
)
def test_wrong_types_are_rejected(raw: dict, needle: str) -> None:
    assert needle in _error(raw)


def _overridden(tmp_path: Path, overrides: list[str]) -> Path:
    """params.yaml after `dvc exp run -S` applied `overrides` to it (in a copy)."""
    from dvc.utils.hydra import apply_overrides

    path = tmp_path / "params.yaml"
    path.write_text(REPO_PARAMS.read_text())
    apply_overrides(str(path), overrides)
    return path


def test_floats_as_dvc_writes_them_are_accepted(tmp_path: Path) -> None:
    path = _overridden(tmp_path, ["train.weight_decay=1e-5"])
    assert load_params(path).train.weight_decay == 1e-5


def test_dvc_set_param_chooses_another_source(tmp_path: Path) -> None:
    """A kind's keys params.yaml does not list are added with `++` (Hydra's add-or-override)."""
    overrides = ["data.source.kind=archive", "++data.source.path=../cifake.zip"]
    path = _overridden(tmp_path, overrides)
    assert load_params(path).data.source == ArchiveSource(path="../cifake.zip")
    assert "    kind: archive  " in path.read_text()  # the comments stay


def test_dvc_set_param_cannot_add_a_key_without_plus(tmp_path: Path) -> None:
    from dvc.exceptions import InvalidArgumentError

    with pytest.raises(InvalidArgumentError):
        _overridden(tmp_path, ["data.source.kind=archive", "data.source.path=../cifake.zip"])


def test_int_is_accepted_for_float() -> None:
    params = parse_params({"train": {"learning_rate": 1, "weight_decay": 0}})
    assert params.train.learning_rate == 1.0
    assert isinstance(params.train.learning_rate, float)
    assert isinstance(params.train.weight_decay, float)


def test_optional_values_accept_null() -> None:
    params = parse_params(
        {"data": {"source": {"kind": "archive", "path": "a.zip", "sha256": None}}}
    )
    assert params.data.source == ArchiveSource(path="a.zip")
    params = parse_params({"data": {"source": {"kind": "kaggle", "sha256": None}}})
    assert params.data.source == KaggleSource()


def test_a_source_is_a_mapping_with_a_kind() -> None:
    kinds = "'embedded', 'archive', 'folder', 'url', 'kaggle', 'synthetic'"
    assert _error({"data": {"source": "archive"}}) == (
        f"params.yaml: data.source must be a mapping with a kind ({kinds}), got str"
    )
    assert _error({"data": {"source": {"path": "a.zip"}}}) == (
        f"params.yaml: data.source.kind is not set; expected one of {kinds}"
    )


def test_a_source_keeps_its_kind_s_defaults() -> None:
    source = parse_params({"data": {"source": {"kind": "synthetic", "seed": 3}}}).data.source
    assert source == SyntheticSource(seed=3)
    assert source.train_per_class == 1000


@pytest.mark.parametrize(
    ("raw", "key", "choices"),
    [
        (
            {"data": {"source": {"kind": "s3"}}},
            "data.source.kind",
            ["embedded", "synthetic", "kaggle", "url", "archive", "folder"],
        ),
        ({"model": {"arch": "vgg16"}}, "model.arch", ["seed_cnn", "fidelity_se_net"]),
        ({"model": {"stem": "s2d"}}, "model.stem", ["full", "space_to_depth"]),
        ({"train": {"optimizer": "Adam"}}, "train.optimizer", ["adam", "adamw", "sgd"]),
        ({"evaluate": {"threshold_policy": 1}}, "evaluate.threshold_policy", ["youden"]),
    ],
)
def test_choices_are_listed(raw: dict, key: str, choices: list[str]) -> None:
    message = _error(raw)
    assert message.startswith(f"params.yaml: {key} is ")
    assert "expected one of" in message
    for choice in choices:
        assert repr(choice) in message


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ({"data": {"val_fraction": 0}}, "data.val_fraction must be in (0, 0.5)"),
        ({"data": {"val_fraction": 0.5}}, "data.val_fraction must be in (0, 0.5)"),
        ({"data": {"test_fraction": -0.1}}, "data.test_fraction must be in (0, 0.5)"),
        ({"data": {"max_bad_fraction": 1.5}}, "data.max_bad_fraction must be in [0, 1]"),
        ({"data": {"max_extract_mb": 0}}, "data.max_extract_mb must be > 0"),
        (
            {"data": {"source": {"kind": "synthetic", "train_per_class": 5}}},
            "data.source.train_per_class must be >= 10",
        ),
        ({"model": {"width": 3}}, "model.width must be >= 12"),
        ({"model": {"dropout": 1}}, "model.dropout must be in [0, 1)"),
        ({"model": {"depth": 0}}, "model.depth must be in [1, 8]"),
        ({"train": {"epochs": 0}}, "train.epochs must be >= 1"),
        ({"train": {"learning_rate": 0}}, "train.learning_rate must be > 0"),
        ({"train": {"label_smoothing": 0.5}}, "train.label_smoothing must be in [0, 0.5)"),
        ({"train": {"augment": {"crop_padding": 9}}}, "train.augment.crop_padding"),
        ({"train": {"augment": {"blur": {"p": 1.5}}}}, "train.augment.blur.p must be in [0, 1]"),
        (
            {"train": {"augment": {"color": {"contrast": 1}}}},
            "train.augment.color.contrast must be in [0, 1)",
        ),
        (
            {"train": {"augment": {"jpeg": {"quality": [95, 30]}}}},
            "train.augment.jpeg.quality must be [min, max] qualities with 1 <= min <= max <= 100",
        ),
        (
            {"train": {"augment": {"resize": {"scale": [0.1, 0.5]}}}},
            "train.augment.resize.scale must be [min, max] factors with 0.125 <= min <= max <= 1",
        ),
        (
            {"train": {"augment": {"jpeg": {"quality": [30]}}}},
            "train.augment.jpeg.quality must hold 2 values, got 1",
        ),
        (
            {"train": {"augment": {"resize": {"filters": []}}}},
            "train.augment.resize.filters must name a filter",
        ),
        (
            {"train": {"init_from": "x", "parent_weight": 1}},
            "train.parent_weight must be in [0, 1)",
        ),
        ({"train": {"parent_weight": 0.5}}, "train.parent_weight needs train.init_from"),
        ({"evaluate": {"fixed_threshold": 1.0}}, "evaluate.fixed_threshold must be in (0, 1)"),
        ({"evaluate": {"calibration_bins": 1}}, "evaluate.calibration_bins must be >= 2"),
        ({"evaluate": {"uncertain_share": 0.6}}, "evaluate.uncertain_share must be in [0, 0.5)"),
        ({"promote": {"min_unseen_images": 5}}, "promote.min_unseen_images must be >= 20"),
        (
            {"evaluate": {"uncertain_share": 0.005}},
            "evaluate.unfamiliar_share + evaluate.smooth_share must not exceed",
        ),
    ],
)
def test_out_of_range_values_are_rejected(raw: dict, needle: str) -> None:
    assert needle in _error(raw)


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        (["a"], "the top level must be a mapping, got list"),
        ({"data": 5}, "data must be a mapping, got int"),
        ({"train": {"augment": "yes"}}, "train.augment must be a mapping, got str"),
    ],
)
def test_sections_must_be_mappings(raw: Any, needle: str) -> None:
    assert needle in _error(raw)


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "data:\n  source:\n    kind: archive\n    path: [unclosed\n")
    with pytest.raises(UserError, match=r"is not valid YAML at line \d+"):
        load_params(path)


def test_tabs_are_invalid_yaml(tmp_path: Path) -> None:
    path = _write(tmp_path, "data:\n\tsource:\n\t\tkind: archive\n")
    with pytest.raises(UserError, match="is not valid YAML"):
        load_params(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"params\.yaml not found: run from the project root"):
        load_params(tmp_path / "params.yaml")


def test_a_folder_is_not_a_params_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not found"):
        load_params(tmp_path)


def test_params_to_dict_flattens_with_dotted_keys() -> None:
    flat = params_to_dict(parse_params({"train": {"learning_rate": 0.01}}))
    assert flat["train.learning_rate"] == 0.01
    assert flat["train.augment.flip"] is True
    assert flat["data.source.kind"] == "embedded"
    assert flat["promote.alias"] == "champion"
    assert all(not isinstance(value, dict) for value in flat.values())
    assert "train" not in flat and "train.augment" not in flat


def test_params_are_frozen() -> None:
    params = Params()
    with pytest.raises(ValidationError, match="frozen"):
        params.train.epochs = 3  # type: ignore[misc]
