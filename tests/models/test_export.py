"""ONNX export: the graph scores like Keras (flip averaging inside it), or it is refused."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from fakeimage.config import ModelParams
from fakeimage.data.hashes import training_record
from fakeimage.detector.card import ModelCard
from fakeimage.detector.folder import DetectorFolder
from fakeimage.detector.onnx_runtime import load_onnx_detector
from fakeimage.errors import UserError
from fakeimage.models import export
from fakeimage.models.keras_detector import Detector, load_detector, save_detector
from fakeimage.models.zoo import seed_cnn
from tests.cards import make_card

IMAGES = np.random.default_rng(0).integers(0, 256, (48, 32, 32, 3), dtype=np.uint8)


def _card(flip_tta: bool) -> ModelCard:
    card = make_card()
    return card.replace(evaluation=card.evaluation.replace(flip_tta=flip_tta))


@pytest.mark.parametrize("flip_tta", [False, True])
def test_the_onnx_graph_scores_like_keras(tmp_path: Path, flip_tta: bool) -> None:
    keras.utils.set_random_seed(0)
    folder = tmp_path / "detector"
    save_detector(folder, seed_cnn(ModelParams()), _card(flip_tta), training_record(IMAGES[:2]))
    detector = load_detector(folder)
    graph, record = export.export_onnx(detector, IMAGES)
    assert record.flip_tta is flip_tta and record.opset == export.OPSET
    assert record.parity_images == 48 and record.verdict_changes == 0
    assert record.max_abs_difference <= export.PARITY_TOLERANCE
    export.write_with_onnx(detector, DetectorFolder(folder), folder, detector.card, IMAGES)
    assert graph and DetectorFolder(folder).card().onnx == record

    served = load_onnx_detector(folder)
    assert (served.name, served.version, served.threshold) == ("fake-image-detector", "3", 0.4321)
    other = np.random.default_rng(1).integers(0, 256, (7, 32, 32, 3), dtype=np.uint8)
    np.testing.assert_allclose(
        served.predict_proba(other), detector.predict_proba(other), atol=1e-5
    )
    assert served.predict_proba(other[:0]).shape == (0,)


def test_a_graph_that_disagrees_with_keras_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keras.utils.set_random_seed(0)
    detector = Detector(seed_cnn(ModelParams()), _card(False))
    keras.utils.set_random_seed(1)
    stranger = seed_cnn(ModelParams())
    original = export.onnx_bytes
    monkeypatch.setattr(
        export, "onnx_bytes", lambda model, flip_tta: original(stranger, flip_tta=flip_tta)
    )
    with pytest.raises(UserError, match="differs from Keras"):
        export.write_with_onnx(
            detector, DetectorFolder(tmp_path), tmp_path / "exported", detector.card, IMAGES
        )
    assert not (tmp_path / "exported").exists()


def test_a_folder_without_a_graph_names_the_fix(tmp_path: Path) -> None:
    save_detector(
        tmp_path / "d", seed_cnn(ModelParams()), _card(False), training_record(IMAGES[:1])
    )
    with pytest.raises(UserError, match="no ONNX graph"):
        load_onnx_detector(tmp_path / "d")


def test_promote_converts_a_network_once_and_checks_every_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conversions: list[bool] = []
    original = export.onnx_bytes

    def counted(model: keras.Model, *, flip_tta: bool) -> bytes:
        conversions.append(flip_tta)
        return original(model, flip_tta=flip_tta)

    monkeypatch.setattr(export, "onnx_bytes", counted)
    monkeypatch.setattr(export, "CACHED_GRAPHS", 1)
    cache = tmp_path / "cache"
    keras.utils.set_random_seed(0)
    first, second = tmp_path / "first", tmp_path / "second"
    save_detector(first, seed_cnn(ModelParams()), _card(False), training_record(IMAGES[:2]))
    save_detector(second, seed_cnn(ModelParams()), _card(False), training_record(IMAGES[:2]))
    detector = load_detector(first)
    made = export.write_with_onnx(
        detector, DetectorFolder(first), tmp_path / "a", detector.card, IMAGES, cache
    )
    again = export.write_with_onnx(
        detector, DetectorFolder(first), tmp_path / "b", detector.card, IMAGES[:20], cache
    )
    assert conversions == [False]  # the same network's bytes: taken from the cache
    assert made.onnx_file.read_bytes() == again.onnx_file.read_bytes()
    assert again.card().onnx.parity_images == 20  # checked again, on this export's images
    other = load_detector(second)
    export.write_with_onnx(other, DetectorFolder(second), tmp_path / "c", other.card, IMAGES, cache)
    assert conversions == [False, False]  # another network is converted
    assert len(list(cache.glob("*.onnx"))) == 1  # the oldest entry made room

    # A cached graph that no longer scores like its network is still refused.
    (stale,) = cache.glob("*.onnx")
    stale.write_bytes(made.onnx_file.read_bytes())
    with pytest.raises(UserError, match="differs from Keras"):
        export.write_with_onnx(
            other, DetectorFolder(second), tmp_path / "d", other.card, IMAGES, cache
        )
