"""The zoo from its params: train each listed generator on REAL images, write its samples as a
FAKE source, and check how far plain quality statistics give them away.

TensorFlow is imported only when a generator is listed: the default, empty zoo writes its
empty folder and report in a moment. Each generator trains from (and leaves) a checkpoint in
its own folder under the checkpoint folder: a run stopped part-way resumes where it stopped,
and a re-run that adds a generator trains only the new one (the others' finished checkpoints
are resumed at their last epoch and only sampled again, deterministically).
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fakeimage.config import GeneratorParams, ZooParams
from fakeimage.data.images import load_model_input
from fakeimage.data.layout import list_labelled_files
from fakeimage.errors import UserError
from fakeimage.generators.quality import Separability, separability
from fakeimage.generators.writer import jpeg_round_trip, staged_folder, write_source
from fakeimage.hardware import hardware_description

QUALITY_SEED = 0
"""Which REAL (and CIFAKE FAKE) images the quality checks compare against: fixed, so every
generator meets the same ones."""


@dataclass(frozen=True)
class GeneratorReport:
    name: str
    settings: GeneratorParams
    train_images: int
    epochs_this_session: int
    seconds: float
    """Training time over all sessions."""
    images_per_second: float
    sample_seconds: float
    samples: dict[str, int]
    losses: dict[str, float]
    """The last epoch's mean losses."""
    quality: Separability | None
    """None with fewer than 5 samples."""

    def as_dict(self) -> dict[str, object]:
        return {
            "family": self.settings.family,
            "epochs": self.settings.epochs,
            "epochs_this_session": self.epochs_this_session,
            "train_images": self.train_images,
            "seconds": round(self.seconds, 1),
            "images_per_second": round(self.images_per_second, 1),
            "sample_seconds": round(self.sample_seconds, 1),
            "samples": self.samples,
            "losses": {key: round(value, 4) for key, value in self.losses.items()},
            "quality": self.quality.as_dict() if self.quality else None,
        }


@dataclass(frozen=True)
class Zoo:
    generators: list[GeneratorReport]
    reference: Separability | None
    """The same check for CIFAKE's own FAKE images (Stable Diffusion 1.4)."""
    hardware: str

    @property
    def report(self) -> dict[str, object]:
        """reports/zoo.json: per generator, its cost, its samples and its quality check."""
        return {
            "generators": {g.name: g.as_dict() for g in self.generators},
            "cifake_fake_quality": self.reference.as_dict() if self.reference else None,
            "hardware": self.hardware,
        }

    def summary(self) -> list[str]:
        if not self.generators:
            return ["no generators listed (zoo.generators): wrote an empty zoo"]
        lines = []
        for g in self.generators:
            quality = f"ROC-AUC {g.quality.roc_auc:.3f}" if g.quality else "not checked"
            lines.append(
                f"{g.name}: {_count(g.settings.epochs, 'epoch')} on {g.train_images:,} REAL "
                f"images in {g.seconds:.0f} s ({g.images_per_second:.0f} images/s), "
                f"{sum(g.samples.values()):,} samples in {g.sample_seconds:.0f} s; "
                f"quality statistics tell them from REAL: {quality}"
            )
        if self.reference:
            lines.append(f"CIFAKE's own FAKE images: ROC-AUC {self.reference.roc_auc:.3f}")
        return lines


def build_zoo(params: ZooParams, raw_dir: Path, out_dir: Path, checkpoints: Path) -> Zoo:
    """Write the zoo of `params` to out_dir (replaced whole), training from raw_dir's REAL
    train images; every generator's checkpoint lives in `checkpoints/<name>/`."""
    names = {generator.source for generator in params.generators}
    if checkpoints.is_dir():  # generators no longer listed: nothing will resume them
        for folder in checkpoints.iterdir():
            if folder.name not in names:
                shutil.rmtree(folder, ignore_errors=True)
    with staged_folder(out_dir) as staging:
        _describe(staging, sorted(names))
        if not params.generators:
            return Zoo([], None, hardware_description())
        from fakeimage.startup import import_tensorflow

        import_tensorflow()
        images = _CifakeImages(raw_dir)
        real = images.pick(0, QUALITY_SEED, params.quality_images)
        cifake = images.pick(1, QUALITY_SEED, params.quality_images)
        reference = separability(cifake, real)
        reports = [
            _make_generator(settings, images, staging, checkpoints, real)
            for settings in params.generators
        ]
        return Zoo(reports, reference, hardware_description())


def _describe(folder: Path, names: list[str]) -> None:
    """A README saying what the folder holds: a reader of data/zoo, and DVC, which warns about
    an empty output folder at every stage, see that no generator listed is not a failure."""
    listed = ", ".join(names) if names else "none (the default: params.yaml zoo.generators: [])"
    (folder / "README.md").write_text(
        "Samples of the generators the generate stage trained here, as FAKE sources\n"
        f"(<split>/FAKE/<generator>/; reports/zoo.json says how each was made).\n"
        f"Generators listed: {listed}.\n"
    )


def _make_generator(
    settings: GeneratorParams, images: _CifakeImages, out: Path, checkpoints: Path, real: np.ndarray
) -> GeneratorReport:
    from fakeimage.generators.base import Progress, train
    from fakeimage.generators.families import build_model

    name = settings.source
    chosen = images.pick(0, settings.seed, settings.train_images)
    print(f"generate: {name}: {settings.family} on {len(chosen):,} REAL images", flush=True)

    def tell(done: int, progress: Progress) -> None:
        if done == settings.epochs or done % max(1, settings.epochs // 10) == 0:
            losses = ", ".join(f"{k} {v[-1]:.4f}" for k, v in progress.history.items())
            print(
                f"generate: {name}: epoch {done}/{settings.epochs}, {losses}, "
                f"{progress.seconds:.0f} s",
                flush=True,
            )

    model = build_model(settings)
    training = train(model, chosen, settings.epochs, checkpoints / name, tell)
    started = time.perf_counter()
    samples = model.sample(settings.samples_train + settings.samples_test, settings.seed)
    sample_seconds = time.perf_counter() - started
    parts = {"train": samples[: settings.samples_train], "test": samples[settings.samples_train :]}
    counts = {split: write_source(out, name, split, part) for split, part in parts.items()}
    checked = jpeg_round_trip(samples[: len(real)])
    return GeneratorReport(
        name=name,
        settings=settings,
        train_images=len(chosen),
        epochs_this_session=training.epochs_this_session,
        seconds=training.seconds,
        images_per_second=training.images_per_second,
        sample_seconds=sample_seconds,
        samples=counts,
        losses={key: values[-1] for key, values in training.history.items()},
        quality=separability(checked, real),
    )


def _count(n: int, thing: str) -> str:
    return f"{n:,} {thing}" + ("" if n == 1 else "s")


class _CifakeImages:
    """The train images of a CIFAKE-layout folder, decoded once each, on first use."""

    def __init__(self, root: Path) -> None:
        files = [f for f in list_labelled_files(root) if f.split == "train"]
        self.paths = {label: [f.path for f in files if f.label == label] for label in (0, 1)}
        if not self.paths[0]:
            raise UserError(f"{root} holds no REAL train images for the zoo to learn from")
        self._decoded: dict[Path, np.ndarray] = {}

    def pick(self, label: int, seed: int, count: int) -> np.ndarray:
        """`count` (at most) of the label's images, a seeded draw, uint8 (n, 32, 32, 3)."""
        paths = self.paths[label]
        order = np.random.default_rng(seed).permutation(len(paths))[:count]
        for index in order:
            if paths[index] not in self._decoded:
                self._decoded[paths[index]] = load_model_input(paths[index])
        chosen = [self._decoded[paths[index]] for index in order]
        return np.stack(chosen) if chosen else np.zeros((0, 32, 32, 3), np.uint8)
