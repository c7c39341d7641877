"""Serving benchmark: latency and throughput of the BentoML service on this machine.

Starts the service as `make serve` does (`fakeimage serve --model DIR`) on a free loopback
port (its own BENTOML_HOME in a temporary folder), then measures:
- /predict against its floor (`benchmarks.latency_floor`): p50 with one client beside a bare
  BentoML service's and the raw one-image forward pass, and their ratio (target <= 1.15);
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

    python -m benchmarks.serving [--quick] [--floor-only] [--model DIR] [--soak-seconds S]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from benchmarks import answer_log
from benchmarks.latency_floor import BARE_SERVICE, TARGET_RATIO, measure_floor
from benchmarks.load import (
    LoadResult,
    Request,
    batch_request,
    run_load,
    sample_images,
    server_split,
    single_requests,
)
from benchmarks.references import REPO_ROOT, References, bento_size, model_folder
from tests.service_process import ServiceProcess, run_service

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
    floor_rounds: int
    floor_requests: int
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
            floor_rounds=3 if quick else 5,
            floor_requests=200 if quick else 400,
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


def logging_row(server: ServiceProcess, singles: list[Request], scratch: Path) -> Row:
    """The answer log's and counters' cost per answer against this run's /predict p50."""
    result = run_load(server.port, singles, clients=1, max_requests=300, max_seconds=10)
    value, ok = answer_log.cost_line(scratch, result.percentile(50))
    row = Row("answer log + /metrics, per answer", value, "<= 5% of /predict p50", verdict(ok))
    print(f"  {row.what}: {row.value}", file=sys.stderr)
    return row


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


def floor_rows(
    server: ServiceProcess, home: Path, images: list[bytes], folder: Path, plan: Plan
) -> list[Row]:
    """/predict against its floor: the bare BentoML service, served beside it, plus the raw
    one-image forward pass (`benchmarks.latency_floor`)."""
    from fakeimage.data.images import load_model_input

    singles = single_requests(images)
    pixels = load_model_input(images[0])[np.newaxis]
    print("latency floor: starting the bare BentoML service...", file=sys.stderr)
    with run_service(home / "bare", target=BARE_SERVICE, cwd=REPO_ROOT) as bare:
        floor = measure_floor(
            server,
            bare,
            singles,
            folder,
            pixels,
            rounds=plan.floor_rounds,
            requests=plan.floor_requests,
        )
    print(f"  {floor.describe()}", file=sys.stderr)
    return [
        Row(
            "/predict p50 against its floor, 1 client",
            floor.describe(),
            f"ratio <= {TARGET_RATIO}",
            verdict(floor.ratio <= TARGET_RATIO),
            f"medians of {plan.floor_rounds} interleaved rounds of {plan.floor_requests} "
            "requests (and forward calls) each",
        )
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
    parser.add_argument(
        "--floor-only", action="store_true", help="only /predict against its floor (minutes)"
    )
    args = parser.parse_args(argv)
    plan = Plan.of(args.quick, args.soak_seconds)
    scratch = Path(tempfile.mkdtemp(prefix="fakeimage-bench-"))
    try:
        folder, model_source = model_folder(args.model, scratch)
        images, image_source = sample_images(256)
        load_before = os.getloadavg()
        print(f"model: {model_source}; images: {image_source}", file=sys.stderr)
        home = scratch / "bentoml_home"
        home.mkdir()
        if args.floor_only:
            print("starting the server...", file=sys.stderr)
            with run_service(home, model=folder, cwd=REPO_ROOT) as server:
                rows = floor_rows(server, home, images, folder, plan)
            print_report(rows, f"/predict against its floor, {cpu_description()}")
            return
        refs = References.load(folder, images, plan.reference_s)
        print("starting the server...", file=sys.stderr)
        with run_service(home, model=folder, cwd=REPO_ROOT) as server:
            ready_rss = server.tree_rss_mb()
            singles = single_requests(images)
            rows = floor_rows(server, home, images, folder, plan)
            rows += single_image_rows(server, refs, singles, plan)
            rows.append(logging_row(server, singles, scratch))
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
