"""What `fakeimage serve`, `bento` and `predict` do before a model is scored: no TensorFlow here.

A detector folder without its ONNX graph (the shipped reference, before `make run`) needs one
exported, which takes TensorFlow: 675 MB resident and seconds of import. The export runs in a
child process that exits when it is done, so the launcher stays small: `fakeimage serve` then
becomes the BentoML server itself (`exec`), and no process of the served tree ever maps
libtensorflow. Nothing is exported when the folder has its graph, or when the tag it would be
stored under is in BentoML's store already.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from fakeimage.detector.folder import DetectorFolder
from fakeimage.errors import UserError
from fakeimage.serving.bento_store import local_detector_folder, store_detector

SERVICE = "fakeimage.serving.service:FakeImageDetector"
ERROR_PREFIX = "fakeimage: error: "


def _export(folder: Path, scratch: Path) -> Path:
    """In the child: TensorFlow, quietly, then the checked export (`models.export.with_onnx`)."""
    from fakeimage.startup import import_tensorflow

    import_tensorflow()
    from fakeimage.models.export import with_onnx

    return with_onnx(folder, scratch)


def with_onnx_in_child(folder: Path, scratch: Path) -> Path:
    """The folder itself if it has its ONNX graph, else a copy in scratch with one exported by
    a child process (`python -m fakeimage.serving.launch`), which has exited by the time this
    returns: this process never imports TensorFlow and leaves no child behind."""
    if DetectorFolder(folder).has_onnx():
        return folder
    print(f"{folder} has no ONNX graph: exporting one (TensorFlow, in a child)", file=sys.stderr)
    command = [sys.executable, "-m", __name__, str(folder.resolve()), str(scratch.resolve())]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or [f"the export exited with {done.returncode}"]
        raise UserError(lines[-1].removeprefix(ERROR_PREFIX))
    sys.stderr.write(done.stderr)  # the export's own warnings, if any
    return Path(done.stdout.strip().splitlines()[-1])


def store_for_serving(model: str | None) -> str:
    """Store the folder to serve (default: the champion, else the reference) in BentoML's model
    store, exported to ONNX on the way if it has no graph; its tag."""
    folder = local_detector_folder(model)
    with tempfile.TemporaryDirectory(prefix="fakeimage-onnx-") as scratch:
        return store_detector(folder, lambda f: with_onnx_in_child(f, Path(scratch)))


def bentoml_command(*args: str) -> list[str]:
    """`bentoml ARGS...`: this environment's executable, not the first one on PATH."""
    bentoml = Path(sys.executable).with_name("bentoml")
    return [str(bentoml) if bentoml.exists() else "bentoml", *args]


def serve_command(tag: str, host: str, port: int) -> list[str]:
    return bentoml_command(
        "serve", SERVICE, "--host", host, "--port", str(port), "--arg", f"model_tag={tag}"
    )


def become(command: list[str]) -> None:
    """Replace this process with `command` (same pid, same process group): the launcher's
    memory is gone, and whoever stops it stops the server."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvp(command[0], command)


def main(argv: Sequence[str]) -> int:
    """The export child: FOLDER SCRATCH in, the exported folder's path out (stdout)."""
    try:
        print(_export(Path(argv[0]), Path(argv[1])))
    except UserError as exc:
        print(f"{ERROR_PREFIX}{exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
