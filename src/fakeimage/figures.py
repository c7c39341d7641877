"""One writer for every PNG figure the project saves, so no reader sees half a file."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

from fakeimage.atomic import write_bytes

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def save_figure(figure: Figure, path: Path, dpi: int = 110) -> Path:
    """Lay out, render to memory, close (pyplot keeps every open figure alive), then rename."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    try:
        figure.tight_layout()
        figure.savefig(buffer, format="png", dpi=dpi)
    finally:
        plt.close(figure)
    write_bytes(path, buffer.getvalue())
    return path
