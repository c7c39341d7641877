"""How fast `fakeimage predict` answers: one image per call, and a folder in one call.

Each call is a fresh `fakeimage predict` process, as a person or a script runs it, timed from
start to exit, against the time a process takes only to import TensorFlow (what the command
paid before it scored through ONNX Runtime alone). The model is models/champion, else the
shipped reference with its ONNX graph exported once into scratch beforehand. Images come
from the shared CIFAKE sample (../shared/data/cifake-sample.zip).

    python -m benchmarks.cli [--calls N] [--images N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from fakeimage.hardware import hardware_description
from fakeimage.paths import CHAMPION_DIR, REFERENCE_DIR

SAMPLE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cifake-sample.zip"


def _seconds(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, timeout=600)
    return time.perf_counter() - started


def _model(scratch: Path) -> Path:
    if (CHAMPION_DIR / "model.onnx").is_file():
        return CHAMPION_DIR
    from fakeimage.serving.launch import with_onnx_in_child

    return with_onnx_in_child(REFERENCE_DIR, scratch)


def _images(folder: Path, count: int) -> list[Path]:
    folder.mkdir()
    with zipfile.ZipFile(SAMPLE) as archive:
        names = sorted(n for n in archive.namelist() if n.endswith((".jpg", ".png")))[:count]
        for index, name in enumerate(names):
            (folder / f"{index:05d}{Path(name).suffix}").write_bytes(archive.read(name))
    return sorted(folder.iterdir())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5, help="single-image calls to time")
    parser.add_argument("--images", type=int, default=1000, help="images in the folder call")
    args = parser.parse_args(argv)
    if not SAMPLE.is_file():
        print(f"\nbenchmarks.cli: skipped, {SAMPLE} not found")
        return
    fakeimage = [sys.executable, "-m", "fakeimage", "predict"]
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as scratch:
        model = _model(Path(scratch))
        images = _images(Path(scratch) / "images", args.images)
        one = statistics.median(
            _seconds([*fakeimage, str(images[0]), "--model", str(model)]) for _ in range(args.calls)
        )
        folder = _seconds([*fakeimage, str(images[0].parent), "--model", str(model)])
        tensorflow = statistics.median(
            _seconds([sys.executable, "-c", "import tensorflow"]) for _ in range(args.calls)
        )
    per_image_ms = (folder - one) / (len(images) - 1) * 1000
    print(f"\n`fakeimage predict` on {hardware_description()} ({model.name})\n")
    print("| call | wall time | against `import tensorflow` alone |")
    print("|---|---:|---:|")
    print(f"| 1 image (median of {args.calls}) | {one:.2f} s | {one / tensorflow:.2f}x |")
    print(f"| a folder of {len(images):,} images | {folder:.2f} s | {folder / tensorflow:.2f}x |")
    print(f"| `python -c 'import tensorflow'` | {tensorflow:.2f} s | 1.00x |")
    print(f"\neach further image of a folder: {per_image_ms:.2f} ms")


if __name__ == "__main__":
    main()
