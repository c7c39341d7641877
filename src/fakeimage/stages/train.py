"""train: fit `model.arch` on the prepared splits as one MLflow run; write models/trained."""

from __future__ import annotations

from fakeimage.atomic import write_json
from fakeimage.config import Params
from fakeimage.data.dataset import load_prepared
from fakeimage.evaluation.plots import draw_history
from fakeimage.models.keras_detector import save_detector
from fakeimage.paths import (
    DATA_REPORT,
    PREPARED_DIR,
    REPORTS_DIR,
    TRAIN_CHECKPOINT_DIR,
    TRAINED_DIR,
)
from fakeimage.registry import store
from fakeimage.training.checkpoint import clear_checkpoint
from fakeimage.training.cluster import cluster_role
from fakeimage.training.trainer import train_detector, train_share


def run(params: Params) -> None:
    prepared = load_prepared(PREPARED_DIR, DATA_REPORT)
    role = cluster_role(params.train.strategy)
    if not role.is_chief:  # trains its share; the chief records the run and writes the outputs
        result = train_share(params, prepared)
        print(f"train: {role} finished {result.epochs_run} epochs; the chief records the run")
        return
    trained = train_detector(params, prepared, TRAIN_CHECKPOINT_DIR, role)
    card = trained.card
    folder = save_detector(TRAINED_DIR, trained.model, card, trained.record)
    history = draw_history(trained.history, REPORTS_DIR / "train_history.png")
    write_json(REPORTS_DIR / "train.json", trained.summary)
    epochs = range(card.training.epochs_run)
    rows = [{"epoch": e + 1, **{k: v[e] for k, v in trained.history.items()}} for e in epochs]
    write_json(REPORTS_DIR / "train_history.json", rows)
    tags = {"precision_policy": card.training.precision_policy}
    store.mirror(card, folder, trained.summary, tags, [history])
    clear_checkpoint(TRAIN_CHECKPOINT_DIR)  # only now: the outputs are whole
    ran = card.training.epochs_run
    stopped = f" (stopped early of {params.train.epochs})" if ran < params.train.epochs else ""
    print(
        f"train: {params.model.arch}, best epoch {card.training.best_epoch}/{ran}{stopped}, "
        f"val accuracy {trained.val_accuracy:.4f}, "
        f"{card.training.seconds:.0f} s in {card.training.precision_policy} on "
        f"{role.size} worker(s), MLflow run {card.run_id}"
    )
