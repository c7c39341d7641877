"""Which heavy frameworks importing some modules loads, measured in a fresh interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

FRAMEWORKS = ("tensorflow", "keras", "tf2onnx")


def frameworks_loaded_by(
    modules: list[str], timeout: float = 110, path: Path | None = None
) -> list[str]:
    """The FRAMEWORKS that importing `modules` (in a new Python process, with `path` first on
    its module search path when given) pulls in."""
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"import json; print(json.dumps(sorted(m for m in {FRAMEWORKS!r} if m in sys.modules)))\n"
    )
    env = dict(os.environ)
    if path is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(path), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, env=env
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)
