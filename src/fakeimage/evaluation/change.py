"""Before and after: what a new model changed, source by source, on the same test images.

`fakeimage learn` scores the model it started from and the one it trained on the test split
(images neither trained or validated on), each at its own threshold, and reports every
source's accuracy (for one class per source: the share it calls right) before and after.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SourceChange:
    source: str
    images: int
    before: float
    after: float

    @property
    def change(self) -> float:
        return self.after - self.before

    def row(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "images": self.images,
            "before": round(self.before, 6),
            "after": round(self.after, 6),
            "change": round(self.change, 6),
        }


def source_changes(
    before: Mapping[str, Mapping[str, Any]], after: Mapping[str, Mapping[str, Any]]
) -> list[SourceChange]:
    """Each source's accuracy in two `fakeimage evaluate` source reports of the same images,
    the total ("all") last."""
    names = sorted(set(before) & set(after), key=lambda name: (name == "all", name))
    return [
        SourceChange(name, int(after[name]["n"]), before[name]["accuracy"], after[name]["accuracy"])
        for name in names
    ]


def render(changes: list[SourceChange], learnt: str) -> list[str]:
    """The table `fakeimage learn` prints, the learnt source marked."""
    width = max(len(change.source) for change in changes) + 2
    lines = [f"{'source':<{width}}{'images':>7}{'before':>9}{'after':>9}{'change':>9}"]
    for change in changes:
        mark = "  <- learnt" if change.source == learnt else ""
        lines.append(
            f"{change.source:<{width}}{change.images:>7}{change.before:>9.2%}"
            f"{change.after:>9.2%}{100 * change.change:>+8.2f}p{mark}"
        )
    return lines
