"""Importing TensorFlow without its start-up notices, so stages print their own lines.

TensorFlow 2.21 writes a few INFO lines straight to file descriptor 2 while it loads, before
its logging is configured, so TF_CPP_MIN_LOG_LEVEL cannot hide them ("All log messages before
absl::InitializeLog() is called...", "oneDNN custom operations are on...", which CPU
instructions the build uses). `import_tensorflow` captures descriptor 2 during the import and
passes on every other line: real warnings and errors still reach the terminal.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Iterator

START_UP_NOTICES = re.compile(
    r"All log messages before absl::InitializeLog\(\) is called"
    r"|oneDNN custom operations are on"
    r"|cpu_feature_guard\.cc.*This TensorFlow binary is optimized"
    r"|^To enable the following instructions: .* rebuild TensorFlow"
)


@contextlib.contextmanager
def start_up_notices_hidden() -> Iterator[None]:
    """Drop TensorFlow's start-up notices from what is written to descriptor 2 meanwhile."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode(errors="replace").splitlines(keepends=True):
                if not START_UP_NOTICES.search(line):
                    sys.stderr.write(line)
            sys.stderr.flush()


def import_tensorflow() -> None:
    """Import TensorFlow (and Keras) once, quietly; later imports are free."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")  # INFO off; warnings and errors stay
    with start_up_notices_hidden():
        import keras  # noqa: F401
        import tensorflow  # noqa: F401
