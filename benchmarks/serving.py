"""Serving benchmark: latency and throughput of the BentoML service on this machine.

Starts `bentoml serve fakeimage.serving.service:FakeImageDetector` on a free loopback port
(its own BENTOML_HOME in a temporary folder), then measures:
- /predict, one image per request: p50/p99 latency with 1 and with 8 concurrent clients;
- /predict_batch with 64 and 256 images per request: images/s;
- for reference, in this process before the server starts: the model's raw forward pass at
  1, 8, 64 and 256 images in both engines (ONNX Runtime, which the server runs, and the traced
  Keras forward) and the original app's path (PIL resize, then Keras `model.predict` on one
  image);
- a soak run (60 s, 8 concurrent clients on /predict, after 90 s of the same load as
  warm-up): errors (must be 0) and the server process tree's RSS after warm-up and at the end
  (at most 600 MB, under 5% growth);
- the Bento's size on disk (`bentoml build` into this run's BENTOML_HOME).
Where the time goes: the service's own /metrics give the mean time per request in the public
and in the model service and the adaptive batch sizes; psutil gives the CPU time per image of
the API process, the model process and the load generator (robust to noisy neighbours).

Targets on a 2-core machine, as ratios measured in this run: single-image p50 (one client) at
least 20x faster than the original app path; batch throughput >= 90% of the raw batched
forward throughput. With 8 clients waiting on each other, the row shows the
floor no server can beat: one forward pass of 8 images. Prints a markdown table. `--quick`
shortens every phase.

    python -m benchmarks.serving [--quick] [--model DIR] [--soak-seconds S]
"""

from __future__ import annotations

import argparse
import http.client
import io
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import psutil
from PIL import Image
from urllib3 import encode_multipart_formdata

from tests.service_process import ServiceProcess, process_tree, run_service

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_ZIP = REPO_ROOT.parent / "shared" / "data" / "cifake-sample.zip"
REQUEST_TIMEOUT_S = 60
T = TypeVar("T")


# --------------------------------------------------------------------------- inputs


def sample_images(count: int) -> tuple[list[bytes], str]:
    """Real 32x32 CIFAKE JPEGs from ../shared/data when present, else generated ones."""
    if SAMPLE_ZIP.is_file():
        with zipfile.ZipFile(SAMPLE_ZIP) as archive:
            names = sorted(n for n in archive.namelist() if n.lower().endswith(".jpg"))[:count]
            return [archive.read(name) for name in names], f"CIFAKE sample ({SAMPLE_ZIP.name})"
    rng = np.random.default_rng(0)
    images = []
    for _ in range(count):
        buffer = io.BytesIO()
        pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
        Image.fromarray(pixels, "RGB").save(buffer, "JPEG", quality=75)
        images.append(buffer.getvalue())
    return images, "generated 32x32 JPEGs (the CIFAKE sample is absent)"


def model_folder(requested: str | None, scratch: Path) -> tuple[Path, str]:
    """The detector to serve (--model, else FAKEIMAGE_MODEL, champion, reference), with its
    ONNX graph (exported into scratch for a folder that has none, as `fakeimage serve` does)."""
    from fakeimage.models.export import with_onnx

    for candidate in (requested, os.environ.get("FAKEIMAGE_MODEL")):
        if candidate:
            return with_onnx(Path(candidate).resolve(), scratch), candidate
    for folder in ("models/champion", "models/reference"):
        if (REPO_ROOT / folder / "card.json").is_file():
            return with_onnx(REPO_ROOT / folder, scratch), folder
    raise SystemExit("no model to serve: models/reference is missing from this checkout")


# --------------------------------------------------------------------------- references


def _rate(run: Callable[[], object], images_per_call: int, seconds: float) -> float:
    run()
    run()  # warm up (tracing, allocation)
    calls = 0
    started = time.perf_counter()
    while True:
        run()
        calls += 1
        elapsed = time.perf_counter() - started
        if elapsed >= seconds and calls >= 3:
            return calls * images_per_call / elapsed


@dataclass
class References:
    """What the service is compared with, measured in this process: the raw forward pass of
    both engines (ONNX Runtime, which the service runs, and Keras) and the original app path.

    A 2-core machine's speed drifts during a run (neighbours, turbo), so each server phase is
    compared with references measured right before and right after it, not at the start.
    """

    served: Any
    detector: Any
    pixels: np.ndarray
    images: list[bytes]
    seconds: float

    @classmethod
    def load(cls, folder: Path, images: list[bytes], seconds: float) -> References:
        from fakeimage.data.images import load_model_input
        from fakeimage.detector.onnx_runtime import load_onnx_detector
        from fakeimage.models.keras_detector import load_detector

        pixels = np.stack([load_model_input(data) for data in images])
        served = load_onnx_detector(folder)
        return cls(served, load_detector(folder), pixels, images, seconds)

    def batch(self, size: int) -> np.ndarray:
        return np.resize(self.pixels, (size, *self.pixels.shape[1:]))

    def raw(self, size: int) -> float:
        """ONNX Runtime images/s at this batch size, with all cores (as the batch worker)."""
        batch = self.batch(size)
        return _rate(lambda: self.served.predict_proba(batch), size, self.seconds)

    def keras(self, size: int) -> float:
        batch = self.batch(size)
        return _rate(lambda: self.detector.predict_proba(batch), size, self.seconds)

    def eager(self, size: int) -> float:
        batch = self.batch(size).astype(np.float32)
        return _rate(lambda: self.detector.model(batch, training=False), size, self.seconds)

    def original_app_ms(self, count: int) -> float:
        """The original app: PIL open, resize to 32x32, Keras predict on a batch of one."""

        def classify(data: bytes) -> float:
            image = Image.open(io.BytesIO(data)).convert("RGB").resize((32, 32))
            array = np.asarray(image, dtype=np.float32)[None]
            return float(self.detector.model.predict(array, verbose=0)[0, 0])

        classify(self.images[0])
        started = time.perf_counter()
        for data in self.images[:count]:
            classify(data)
        return (time.perf_counter() - started) / count * 1000

    def around(self, measure: Callable[[], float], phase: Callable[[], T]) -> tuple[float, T]:
        """`measure()` before and after `phase()`: their mean, and what the phase returned."""
        before = measure()
        result = phase()
        return (before + measure()) / 2, result


def bento_size(home: Path, folder: Path) -> str:
    """Build the Bento of `folder` into the BentoML home; its size and its model's on disk."""
    import subprocess

    environment = {**os.environ, "BENTOML_HOME": str(home)}
    command = [str(Path(sys.executable).with_name("fakeimage")), "bento", "--model", str(folder)]
    subprocess.run(command, env=environment, check=True, capture_output=True, cwd=REPO_ROOT)

    def megabytes(root: Path) -> float:
        return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 2**20

    return f"{megabytes(home / 'bentos'):.2f} MB code + {megabytes(home / 'models'):.2f} MB model"


# --------------------------------------------------------------------------- load


@dataclass
class Request:
    path: str
    body: bytes
    content_type: str
    images: int


def single_requests(images: list[bytes]) -> list[Request]:
    requests = []
    for index, data in enumerate(images):
        body, content_type = encode_multipart_formdata({"image": (f"{index}.jpg", data)})
        requests.append(Request("/predict", body, content_type, 1))
    return requests


def batch_request(images: list[bytes], size: int) -> Request:
    fields = [("images", (f"{i}.jpg", images[i % len(images)])) for i in range(size)]
    body, content_type = encode_multipart_formdata(fields)
    return Request("/predict_batch", body, content_type, size)


@dataclass
class LoadResult:
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    images: int = 0
    seconds: float = 0.0

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else float("nan")


def run_load(
    port: int,
    requests: list[Request],
    *,
    clients: int,
    max_requests: int,
    max_seconds: float,
    on_tick: Callable[[], None] | None = None,
) -> LoadResult:
    """`clients` threads, each on its own keep-alive connection, cycling through `requests`.

    Stops after max_requests in all or max_seconds, whichever comes first.
    """
    result = LoadResult()
    lock = threading.Lock()
    issued = 0
    deadline = time.perf_counter() + max_seconds

    def client(offset: int) -> None:
        nonlocal issued
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
        index = offset
        while time.perf_counter() < deadline:
            with lock:
                if issued >= max_requests:
                    break
                issued += 1
            request = requests[index % len(requests)]
            index += clients
            started = time.perf_counter()
            try:
                connection.request(
                    "POST", request.path, request.body, {"Content-Type": request.content_type}
                )
                response = connection.getresponse()
                body = response.read()
                ok = response.status == 200
                problem = f"{response.status} {body[:200]!r}"
            except (OSError, http.client.HTTPException) as exc:
                ok, problem = False, f"{type(exc).__name__}: {exc}"
                connection.close()
                connection = http.client.HTTPConnection(
                    "127.0.0.1", port, timeout=REQUEST_TIMEOUT_S
                )
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                if ok:
                    result.latencies_ms.append(elapsed)
                    result.images += request.images
                else:
                    result.errors.append(problem)
        connection.close()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        for thread in threads:
            thread.join(timeout=1.0)
        if on_tick is not None:
            on_tick()
    result.seconds = time.perf_counter() - started
    return result


# --------------------------------------------------------------------------- server metrics

_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][\w:]*)(?:\{(?P<labels>[^}]*)\})?\s+(?P<value>\S+)$")


def scrape(server: ServiceProcess) -> dict[tuple[str, str, str], float]:
    """(metric, service, endpoint or method) -> value, summed over the other labels."""
    status, body = server.get("/metrics")
    if status != 200:
        return {}
    values: dict[tuple[str, str, str], float] = {}
    for line in body.decode().splitlines():
        match = _SAMPLE.match(line)
        if not match or not match["name"].endswith(("_sum", "_count")):
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', match["labels"] or ""))
        key = (
            match["name"],
            labels.get("service_name", ""),
            labels.get("endpoint", labels.get("method_name", "")),
        )
        values[key] = values.get(key, 0.0) + float(match["value"])
    return values


def mean_between(
    before: dict, after: dict, metric: str, service: str, endpoint: str, scale: float = 1.0
) -> float:
    total = after.get((f"{metric}_sum", service, endpoint), 0.0) - before.get(
        (f"{metric}_sum", service, endpoint), 0.0
    )
    count = after.get((f"{metric}_count", service, endpoint), 0.0) - before.get(
        (f"{metric}_count", service, endpoint), 0.0
    )
    return total / count * scale if count else float("nan")


def cpu_seconds(server: ServiceProcess) -> dict[str, float]:
    """CPU time (user + system) so far of the API worker, the model worker, the rest of the
    server's tree and this benchmark process (the load generator)."""
    found = {"api": 0.0, "model": 0.0, "arbiter": 0.0}
    for member in process_tree(server.process.pid):
        try:
            command = " ".join(member.cmdline())
            times = member.cpu_times()
        except psutil.NoSuchProcess:
            continue
        role = (
            "model"
            if "--service-name DetectorModel" in command
            else "api"
            if "--service-name FakeImageDetector" in command
            else "arbiter"
        )
        found[role] += times.user + times.system
    own = psutil.Process().cpu_times()
    found["client"] = own.user + own.system
    return found


def server_split(
    server: ServiceProcess, measure: Callable[[], LoadResult]
) -> tuple[LoadResult, str]:
    """Run `measure`, and describe where the time went meanwhile: mean time per request in
    the public and the model service (from /metrics), and CPU per image of each process."""
    before, cpu_before = scrape(server), cpu_seconds(server)
    result = measure()
    after, cpu_after = scrape(server), cpu_seconds(server)
    duration = "bentoml_service_request_duration_seconds"
    public = {
        route: mean_between(before, after, duration, "FakeImageDetector", route, 1000)
        for route in ("/predict", "/predict_batch")
    }
    model = mean_between(before, after, duration, "DetectorModel", "/scores", 1000)
    batch = mean_between(
        before, after, "bentoml_service_adaptive_batch_size", "DetectorModel", "scores"
    )
    route = "/predict" if not np.isnan(public["/predict"]) else "/predict_batch"
    images = max(result.images, 1)
    cpu = {role: (cpu_after[role] - cpu_before[role]) / images * 1e6 for role in ("api", "model")}
    client = (cpu_after["client"] - cpu_before["client"]) / images * 1e6
    parts = [f"server {public[route]:.2f} ms/request"]
    if not np.isnan(model):  # /predict scores in the API process; batches go to the worker
        parts.append(f"of which batch model worker {model:.2f} ms")
        parts.append(f"mean model batch {batch:.1f} requests")
    parts.append(
        f"CPU per image: API process {cpu['api']:.0f} us, model worker {cpu['model']:.0f} us, "
        f"load generator {client:.0f} us"
    )
    text = "; ".join(parts)
    return result, text


# --------------------------------------------------------------------------- report


@dataclass
class Row:
    what: str
    value: str
    target: str = ""
    status: str = ""
    note: str = ""


def verdict(ok: bool, result: LoadResult | None = None) -> str:
    text = "met" if ok else "MISSED"
    if result is not None and result.errors:
        text += f", {len(result.errors)} errors"
    return text


@dataclass(frozen=True)
class Plan:
    """How long each phase runs (`--quick` shortens all of them)."""

    single_requests: int
    phase_s: float
    batch_requests: dict[int, int]
    soak_s: float
    warmup_s: float
    reference_s: float
    app_images: int

    @classmethod
    def of(cls, quick: bool, soak_seconds: float | None) -> Plan:
        return cls(
            single_requests=300 if quick else 2000,
            phase_s=10.0 if quick else 30.0,
            batch_requests={64: 10 if quick else 40, 256: 4 if quick else 15},
            soak_s=soak_seconds or (10.0 if quick else 60.0),
            warmup_s=5.0 if quick else 90.0,
            reference_s=1.5 if quick else 4.0,
            app_images=20 if quick else 60,
        )


def single_image_rows(
    server: ServiceProcess, refs: References, singles: list[Request], plan: Plan
) -> list[Row]:
    """/predict with 1 and 8 clients; one client against the original app path around it."""
    rows = []
    for clients in (1, 8):
        # warm-up with the same pattern: threads, pools and allocator arenas grow
        run_load(server.port, singles, clients=clients, max_requests=200, max_seconds=5)
        load = partial(
            run_load,
            server.port,
            singles,
            clients=clients,
            max_requests=plan.single_requests,
            max_seconds=plan.phase_s,
        )
        what = f"/predict latency, {clients} client{'s' if clients > 1 else ''}"
        if clients == 1:
            app_ms, (result, split) = refs.around(
                lambda: refs.original_app_ms(plan.app_images),
                lambda load=load: server_split(server, load),
            )
        else:
            result, split = server_split(server, load)
        p50, p99 = result.percentile(50), result.percentile(99)
        value = (
            f"p50 {p50:.2f} ms, p99 {p99:.2f} ms "
            f"({len(result.latencies_ms) / result.seconds:,.0f} req/s)"
        )
        if clients == 1:
            speedup = app_ms / p50
            value += f"; {speedup:.0f}x the original app path ({app_ms:.0f} ms around it)"
            rows.append(
                Row(what, value, ">= 20x the original app", verdict(speedup >= 20, result), split)
            )
        else:
            # Clients waiting on each other: even with free HTTP, each round of `clients`
            # requests costs at least one forward pass of that many images.
            floor = clients / refs.raw(clients) * 1000
            note = f"floor {floor:.1f} ms: one forward pass of {clients} images; {split}"
            errors = f"{len(result.errors)} errors" if result.errors else ""
            rows.append(Row(what, value, "", errors, note))
        print(f"  {rows[-1].what}: {rows[-1].value}", file=sys.stderr)
    return rows


def batch_rows(
    server: ServiceProcess, refs: References, images: list[bytes], plan: Plan
) -> list[Row]:
    """/predict_batch at 64 and 256 images, 1 and 2 clients, against the raw rate around it."""
    rows = []
    for size in (64, 256):
        request = batch_request(images, size)
        for clients in (1, 2):
            run_load(server.port, [request], clients=clients, max_requests=20, max_seconds=3)
            load = partial(
                run_load,
                server.port,
                [request],
                clients=clients,
                max_requests=plan.batch_requests[size] * clients,
                max_seconds=plan.phase_s,
            )
            raw, (result, split) = refs.around(
                lambda size=size: refs.raw(size), lambda load=load: server_split(server, load)
            )
            rate = result.images / result.seconds
            share = rate / raw
            rows.append(
                Row(
                    f"/predict_batch, {size} images/request, {clients} client"
                    + ("s" if clients > 1 else ""),
                    f"{rate:,.0f} images/s ({share:.0%} of the raw forward, {raw:,.0f} images/s "
                    f"around it); p50 {result.percentile(50):.0f} ms/request",
                    ">= 90% of raw",
                    verdict(share >= 0.9, result),
                    split,
                )
            )
            print(f"  {rows[-1].what}: {rows[-1].value}", file=sys.stderr)
    return rows


def engine_rows(refs: References) -> list[Row]:
    """Both engines side by side at 1, 8, 64 and 256 images, and the original app path."""
    rows = []
    for size in (1, 8, 64, 256):
        raw, keras_rate = refs.raw(size), refs.keras(size)
        eager = f"; eager Keras call {refs.eager(size):,.0f}" if size >= 64 else ""
        rows.append(
            Row(
                f"raw forward, batch {size}: ONNX Runtime vs traced Keras (reference)",
                f"{raw:,.0f} vs {keras_rate:,.0f} images/s "
                f"({1000 * size / raw:.2f} vs {1000 * size / keras_rate:.2f} ms per call){eager}",
            )
        )
    return rows


def soak_rows(
    server: ServiceProcess, singles: list[Request], plan: Plan, ready_rss: float
) -> list[Row]:
    """8 clients for the soak after a warm-up of the same load: errors and memory."""
    # allocator arenas, metric files and pools grow for the first ~15k requests (about 70 s
    # at 8 clients here), then stay flat
    print(f"soak: {plan.warmup_s:.0f} s warm-up, then {plan.soak_s:.0f} s...", file=sys.stderr)
    run_load(server.port, singles, clients=8, max_requests=10**9, max_seconds=plan.warmup_s)
    start_rss = server.tree_rss_mb()
    soak = run_load(server.port, singles, clients=8, max_requests=10**9, max_seconds=plan.soak_s)
    end_rss = server.tree_rss_mb()
    growth = end_rss / start_rss - 1
    return [
        Row(
            f"soak {plan.soak_s:.0f} s, 8 clients, /predict",
            f"{len(soak.latencies_ms):,} requests, {len(soak.errors)} errors, "
            f"p50 {soak.percentile(50):.2f} ms, p99 {soak.percentile(99):.2f} ms",
            "0 errors",
            verdict(not soak.errors),
            "; ".join(sorted(set(soak.errors))[:3]),
        ),
        Row(
            "server process tree RSS: ready -> after warm-up -> end of soak",
            f"{ready_rss:,.0f} MB -> {start_rss:,.0f} MB -> {end_rss:,.0f} MB "
            f"({growth:+.1%} during the soak)",
            "<= 600 MB, growth < 5%",
            verdict(max(start_rss, end_rss) <= 600 and abs(growth) < 0.05),
        ),
    ]


def print_report(rows: list[Row], heading: str) -> None:
    print()
    print(heading)
    print()
    print("| measurement | result | target | status | server side / notes |")
    print("| --- | --- | --- | --- | --- |")
    for row in rows:
        print(f"| {row.what} | {row.value} | {row.target} | {row.status} | {row.note} |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter phases (about 2 minutes)")
    parser.add_argument("--model", help="detector folder to serve (default: as the service)")
    parser.add_argument("--soak-seconds", type=float, help="override the soak duration")
    args = parser.parse_args(argv)
    plan = Plan.of(args.quick, args.soak_seconds)
    scratch = Path(tempfile.mkdtemp(prefix="fakeimage-bench-"))
    try:
        folder, model_source = model_folder(args.model, scratch)
        images, image_source = sample_images(256)
        load_before = os.getloadavg()
        print(f"model: {model_source}; images: {image_source}", file=sys.stderr)
        refs = References.load(folder, images, plan.reference_s)
        home = scratch / "bentoml_home"
        home.mkdir()
        print("starting the server...", file=sys.stderr)
        with run_service(home, model=folder, cwd=REPO_ROOT) as server:
            ready_rss = server.tree_rss_mb()
            singles = single_requests(images)
            rows = single_image_rows(server, refs, singles, plan)
            rows += batch_rows(server, refs, images, plan)
            rows += engine_rows(refs)
            rows.append(
                Row(
                    "original app path: PIL + model.predict, 1 image (reference)",
                    f"{refs.original_app_ms(plan.app_images):.1f} ms/image",
                )
            )
            rows += soak_rows(server, singles, plan, ready_rss)
        rows.append(Row("the Bento on disk", bento_size(home, folder), note="no TensorFlow"))
        load_after = os.getloadavg()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print_report(
        rows,
        f"Serving benchmark ({'quick' if args.quick else 'full'}), {cpu_description()}, "
        f"load average {load_before[0]:.1f} before / {load_after[0]:.1f} after; "
        f"model: {model_source}",
    )


def cpu_description() -> str:
    from fakeimage.hardware import cpu_info

    return f"{cpu_info().model}, {os.cpu_count()} CPUs"


if __name__ == "__main__":
    main()
