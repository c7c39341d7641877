"""What the page says about an answer, as plain functions: numbers no more precise than a
calibrated model is, and sentences that cannot contradict the threshold.

A calibrated probability is trustworthy to about a percentage point (its calibration error on
validation is about half a point), so the page shows P(fake) to two decimals and never says
1.00 or 100%: past 0.99 it says "above 0.99". Every sentence names the side of the threshold
the score falls on and by how much, so "leans towards real" can never sit beside a score that
reached the threshold.
"""

from __future__ import annotations

from html import escape

from fakeimage.serving.schemas import Prediction

VERDICTS = {"FAKE": "AI-generated", "REAL": "Real photograph"}
COLOURS = {"FAKE": "#d62728", "REAL": "#2ca02c", "UNCERTAIN": "#ff8c00"}
"""Verdict colours: the bar, its text and the table agree (orange: the model cannot judge)."""

LIMIT = 0.01
"""Probabilities closer than this to 0 or 1 are shown as bounds, not as 0.00 or 1.00."""


def probability(p: float) -> str:
    """P(fake) to two decimals, as a bound near 0 and 1: 0.9991 -> 'above 0.99'."""
    if p > 1 - LIMIT:
        return f"above {1 - LIMIT:.2f}"
    if p < LIMIT:
        return f"below {LIMIT:.2f}"
    return f"{p:.2f}"


def percent(p: float) -> str:
    """A confidence in whole percent, as a bound near 100%: 0.9991 -> 'above 99%'."""
    if p > 1 - LIMIT:
        return f"above {1 - LIMIT:.0%}"
    return f"{p:.0%}"


def verdict_name(answer: Prediction) -> str:
    """The headline: 'AI-generated', 'Real photograph' or 'Uncertain'."""
    return "Uncertain" if answer.uncertain else VERDICTS[answer.label]


def colour(answer: Prediction) -> str:
    return COLOURS["UNCERTAIN" if answer.uncertain else answer.label]


def against_threshold(answer: Prediction) -> str:
    """Where P(fake) lies against the threshold, e.g. 'P(fake) 0.87: 0.32 above the decision
    threshold 0.55'. The side is the verdict's own (FAKE: at or above), and the gap is taken
    between the numbers as shown, so the sentence adds up and never contradicts the label."""
    side = "above" if answer.label == "FAKE" else "below"
    shown, threshold = probability(answer.prob_fake), _threshold(answer.threshold)
    if answer.prob_fake > 1 - LIMIT or answer.prob_fake < LIMIT:
        bound = 1 - LIMIT if answer.prob_fake > 1 - LIMIT else LIMIT
        gap = f"more than {abs(bound - round(answer.threshold, 2)):.2f}"
    else:
        difference = abs(round(answer.prob_fake, 2) - round(answer.threshold, 2))
        gap = f"{difference:.2f}" if difference >= 0.01 else "just"
        if difference < 0.01 and side == "above":
            gap = "at or just"
    return f"P(fake) {shown}: {gap} {side} the decision threshold {threshold}"


def _threshold(value: float) -> str:
    """Two decimals, or three where two would round to 0.00 or 1.00."""
    return f"{value:.3f}" if value > 1 - LIMIT / 2 or value < LIMIT / 2 else f"{value:.2f}"


LEANS = {"FAKE": "AI-generated", "REAL": "a real photograph"}


def summary(answer: Prediction) -> str:
    """One sentence under the headline: what the answer means and how far it is from the line."""
    where = against_threshold(answer)
    if answer.uncertain:
        return (
            f"The model cannot judge this image reliably. {where}, so it leans towards "
            f"{LEANS[answer.label]}, but do not rely on that:"
        )
    return f"{where}. Confidence in the verdict: {percent(answer.confidence)}."


def reasons(answer: Prediction) -> str:
    """The reasons of an uncertain answer as a short phrase for the table ('-' if none)."""
    return ", ".join(reason.code.replace("_", " ") for reason in answer.reasons) or "-"


def scale(answer: Prediction) -> str:
    """An HTML bar from 0 (real) to 1 (AI-generated): filled to P(fake) in the verdict's
    colour, with the threshold marked. A `meter` role carries the value for screen readers."""
    value = min(max(answer.prob_fake, 0.0), 1.0)
    fill, mark = f"{value * 100:.1f}%", f"{answer.threshold * 100:.1f}%"
    label = escape(f"{verdict_name(answer)}: {against_threshold(answer)}")
    return (
        f'<div role="meter" aria-valuemin="0" aria-valuemax="1" aria-valuenow="{value:.4f}" '
        f'aria-valuetext="{label}" data-colour="{colour(answer)}" '
        'style="position:relative;height:0.7rem;border-radius:0.35rem;background:#e6e6e6;'
        'margin:0.2rem 0 0.1rem 0">'
        f'<div style="width:{fill};height:100%;border-radius:0.35rem;'
        f'background:{colour(answer)}"></div>'
        f'<div title="threshold {answer.threshold:.2f}" style="position:absolute;left:{mark};'
        'top:-0.25rem;height:1.2rem;border-left:2px solid #262730"></div></div>'
        '<div style="display:flex;justify-content:space-between;font-size:0.75rem;'
        'color:#6b6b6b"><span>0 · real</span>'
        f"<span>threshold {answer.threshold:.2f}</span><span>1 · AI-generated</span></div>"
    )
