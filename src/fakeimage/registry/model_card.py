"""The model card: what a detector is, what it was trained on, how well it does, where it fails."""

from __future__ import annotations

from typing import Any

LIMITS = """\
- It sees 32x32 RGB images only. Larger inputs are down-scaled with area averaging, which
  erases most of the fine detail a generator leaves; verdicts on large photos are much less
  reliable than the test figures above (the service adds a warning).
- FAKE means "like CIFAKE's Stable Diffusion v1.4 images". Other generators (newer diffusion
  models, GANs, editing tools) and other sources of real photos (phones, scans, screenshots)
  were never seen in training; expect lower accuracy on them.
- Heavy JPEG re-compression, resizing, blur and noise change the verdicts: see the
  robustness table.
- A probability is calibrated only as far as the ECE above says, on data like the test split.
"""


def _table(rows: list[list[str]], header: list[str]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _number(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _splits_table(splits: Any) -> str:
    if not isinstance(splits, dict):
        return f"  {splits}"
    rows = [
        [name, f"{s['REAL']:,}", f"{s['FAKE']:,}", f"{s['total']:,}"] for name, s in splits.items()
    ]
    return "\n" + _table(rows, ["split", "REAL", "FAKE", "total"])


def render_model_card(metadata: dict[str, Any]) -> str:
    """Markdown model card from a detector's metadata (as promote and the reference write it)."""
    test = metadata["metrics"]["test"]
    metric_rows = [
        [key, _number(test[key])]
        for key in ("accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc", "log_loss", "ece")
    ]
    robustness_rows = [
        [name, *(_number(scores[key]) for key in ("accuracy", "f1", "roc_auc"))]
        for name, scores in metadata.get("robustness", {}).items()
    ]
    (tn, fp), (fn, tp) = test["confusion_matrix"]
    data = metadata.get("data", {})
    params = metadata.get("params", {})
    data_fingerprint = str(metadata.get("data_fingerprint", ""))[:16]
    parameters = metadata.get("parameters")
    parameters = f"{parameters:,}" if isinstance(parameters, int) else "n/a"
    param_rows = [[key, f"`{value}`"] for key, value in sorted(params.items())]
    return f"""# Model card: {metadata["name"]} (version {metadata["version"]})

A convolutional network that tells AI-generated images (FAKE) from real photographs (REAL).
Output: P(FAKE); verdict FAKE when P(FAKE) >= {metadata["threshold"]:.4f}, the threshold chosen
on the validation split ({metadata.get("threshold_policy", "n/a")}).

## Model
- architecture: `{metadata.get("arch", "n/a")}`, {parameters} parameters,
  {metadata.get("macs", 0) / 1e6:,.1f} M multiply-accumulates per image
- input: RGB 32x32, values 0..255 (the model scales to [0, 1] itself), made by
  `fakeimage.data.images.to_model_input`
- trained {metadata.get("epochs_run", "n/a")} epochs (best weights from epoch
  {metadata.get("best_epoch", "n/a")}) in {metadata.get("train_seconds", 0) / 60:.1f} minutes
  on {metadata.get("hardware", "n/a")}, in `{metadata.get("precision_policy", "n/a")}`
- MLflow run `{metadata.get("run_id", "n/a")}`

## Data
- source: {data.get("source", "n/a")} (fingerprint `{data_fingerprint}`)
- splits after removing duplicates (images):
{_splits_table(data.get("splits"))}

## Test metrics (held-out split, FAKE = positive)
{_table(metric_rows, ["metric", "value"])}

Confusion matrix: {tn:,} REAL and {tp:,} FAKE right; {fp:,} REAL called FAKE, {fn:,} FAKE
called REAL ({test["n"]:,} images).

## Robustness (test split, same threshold)
{_table(robustness_rows, ["corruption", "accuracy", "F1", "ROC-AUC"])}

## Known limits
{LIMITS}
## Training parameters
{_table(param_rows, ["param", "value"])}

## Reproduce
```
{metadata.get("reproduce", "dvc repro")}
```
"""
