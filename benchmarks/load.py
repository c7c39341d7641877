"""The serving benchmark's load generator and its view of the server's own metrics.

`run_load` drives the service with keep-alive HTTP clients in threads; `server_split` says
where the time went meanwhile, from BentoML's /metrics and the processes' CPU time.
"""

from __future__ import annotations

import http.client
import io
import re
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psutil
from PIL import Image
from urllib3 import encode_multipart_formdata

from tests.service_process import ServiceProcess, process_tree

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_ZIP = REPO_ROOT.parent / "shared" / "data" / "cifake-sample.zip"
REQUEST_TIMEOUT_S = 60


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
