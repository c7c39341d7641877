"""The Markdown model card: what a detector is, what it was trained on, how well it does, where
it fails. Rendered from the typed card (`fakeimage.detector.card.ModelCard`) whenever a model
folder is exported."""

from __future__ import annotations

import textwrap
from typing import Any

from fakeimage.config import params_to_dict
from fakeimage.detector.card import ModelCard, SplitCounts


def _learnt(card: ModelCard) -> str:
    """The FAKE sources the model trained on, in words (all of them on cards that predate the
    per-source record, and those without a sub-source as "the data's own")."""
    trained = card.data.trained_sources
    if not trained:
        return "its data's FAKE images"
    own = ["the data's own FAKE images"] if trained.get("FAKE") else []
    named = [f"`{name}`" for name in sorted(trained) if name.startswith("FAKE/")]
    return " and ".join(filter(None, [", ".join(own), ", ".join(named)]))


def _limits(card: ModelCard) -> str:
    """What the model cannot know, naming the FAKE sources it learnt and those it was only
    scored on."""
    trained = card.data.trained_sources or {}
    scored = (card.evaluation.sources if card.evaluation else None) or {}
    unseen = sorted(n for n in scored if trained and n != "all" and n not in trained)
    held = f" Scored but never trained on: {', '.join(f'`{n}`' for n in unseen)}." if unseen else ""
    fake = textwrap.fill(
        f'- FAKE means "like the FAKE images it was trained on": {_learnt(card)} (with CIFAKE, '
        f"the data's own are Stable Diffusion v1.4's).{held} Other generators (newer diffusion "
        "models, GANs, editing tools) and other sources of real photos (phones, scans, "
        "screenshots) were never seen in training; expect lower accuracy on them.",
        width=92,
        subsequent_indent="  ",
    )
    return f"""\
- It sees 32x32 RGB images only. Larger inputs are down-scaled with area averaging, which
  erases most of the fine detail a generator leaves; verdicts on large photos are much less
  reliable than the test figures above (the service adds a warning).
{fake}
- Heavy JPEG re-compression, resizing, blur and noise change the verdicts: see the
  robustness table.
- A probability is calibrated only as far as the ECE above says, on data like the test
  split.
"""


def _table(rows: list[list[str]], header: list[str]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _number(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _splits_table(splits: dict[str, SplitCounts]) -> str:
    rows = [[name, f"{s.REAL:,}", f"{s.FAKE:,}", f"{s.total:,}"] for name, s in splits.items()]
    return _table(rows, ["split", "REAL", "FAKE", "total"])


def _sources(card: ModelCard) -> str:
    """The per-source table, when the test split has more than one source per class."""
    sources = card.evaluation.sources if card.evaluation else None
    if not sources or len(sources) <= 3:  # REAL, FAKE and the total: nothing more to say
        return ""
    rows = [
        [name, f"{row.n:,}", *(_number(getattr(row, key)) for key in _SOURCE_KEYS)]
        for name, row in sources.items()
    ]
    header = ["source", "images", "accuracy (recall)", "uncertain", "confidently wrong"]
    return f"""
## Per source (test split)
{_table(rows, header)}
"""


_SOURCE_KEYS = ("accuracy", "uncertain", "confidently_wrong")


def _run_settings(card: ModelCard) -> dict[str, object]:
    """The params the run was made with, as its card recorded them: settings added to the
    project since (which take their defaults on loading) are not claimed, and `learn`, which
    shapes the runs `fakeimage learn` starts rather than a run, is left out."""
    recorded = card.params.model_dump(mode="json", exclude_unset=True)
    return {
        key: value
        for key, value in params_to_dict(recorded).items()
        if key.split(".")[0] != "learn"
    }


def _lineage(card: ModelCard) -> str:
    lineage = card.lineage
    lines = []
    if lineage.imported:
        lines.append(f"- imported into the registry from `{lineage.imported_from}`")
    if parent := lineage.parent:
        data = f", trained on {parent.data_source} data" if parent.data_source else ""
        lines.append(
            f"- fine-tuned from {parent.name} version {parent.version} (`{parent.location}`{data})"
        )
    if replay := lineage.replay:
        new = ", ".join(f"{name} ({count:,})" for name, count in replay.new.items())
        lines.append(
            f"- rehearsal: learnt {new} beside {sum(replay.replayed.values()):,} images replayed "
            f"from the parent's sources ({replay.share:.0%} of the set)"
        )
    if lineage.promotion:
        lines.append(f"- promotion: {lineage.promotion}")
    return "\n".join(lines) or "- trained from scratch by the pipeline"


def render_model_card(card: ModelCard) -> str:
    """Markdown model card of an evaluated detector."""
    if card.evaluation is None:
        raise ValueError(f"{card.label} has no evaluation to put on a model card")
    evaluation = card.evaluation
    test = evaluation.test
    metric_rows = [
        [key, _number(getattr(test, key))]
        for key in ("accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc", "log_loss", "ece")
    ]
    robustness_rows = [
        [name, *(_number(scores[key]) for key in ("accuracy", "f1", "roc_auc"))]
        for name, scores in evaluation.robustness.items()
    ]
    (tn, fp), (fn, tp) = test.confusion_matrix
    architecture, training = card.architecture, card.training
    workers = f"{training.workers} workers of " if training.workers > 1 else ""
    policy = training.precision_policy
    mirror = ", averaged over the image and its mirror" if evaluation.flip_tta else ""
    param_rows = [[key, f"`{value}`"] for key, value in sorted(_run_settings(card).items())]
    return f"""# Model card: {card.name} (version {card.version})

A convolutional network that tells AI-generated images (FAKE) from real photographs (REAL).
Output: P(FAKE); verdict FAKE when P(FAKE) >= {evaluation.threshold:.4f}, the threshold chosen
on the validation split ({evaluation.threshold_policy}){mirror}.

## Model
- architecture: `{architecture.arch}`, {architecture.parameters:,} parameters,
  {architecture.macs / 1e6:,.1f} M multiply-accumulates per image
- input: RGB 32x32, values 0..255 (the model scales to [0, 1] itself), made by
  `fakeimage.data.images.to_model_input`
- trained {training.epochs_run} epochs (best weights from epoch {training.best_epoch}) in
  {training.seconds / 60:.1f} minutes on {workers}{training.hardware}, in `{policy}`
- MLflow run `{card.run_id or "n/a"}`

## Lineage
{_lineage(card)}

## Data
- source: {card.data.description} (fingerprint `{card.data.fingerprint[:16]}`)
- {card.training_images.count:,} distinct training images, recorded by content hash in
  `{card.training_images.file}`
- splits after removing duplicates (images):

{_splits_table(card.data.splits)}

## Test metrics (held-out split, FAKE = positive)
{_table(metric_rows, ["metric", "value"])}

Confusion matrix: {tn:,} REAL and {tp:,} FAKE right; {fp:,} REAL called FAKE, {fn:,} FAKE
called REAL ({test.n:,} images).
{_sources(card)}
## Robustness (test split, same threshold)
{_table(robustness_rows, ["corruption", "accuracy", "F1", "ROC-AUC"])}

## Known limits
{_limits(card)}
## Training parameters
{_table(param_rows, ["param", "value"])}

## Reproduce
```
{card.reproduce}
```
"""
