"""The web page for real: BentoML service + Streamlit server + headless Chromium (Playwright).

Both servers run as subprocesses in their own process groups, killed as groups afterwards.
The browser is Debian's Chromium (/usr/bin/chromium; `.ci/run` installs it in CI), since
Playwright cannot download its own browsers here. Images come from the shared CIFAKE sample
(../shared/data/cifake-sample.zip) and are written to tmp_path only.
"""

from __future__ import annotations

import io
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fakeimage import QUIET_ENVIRONMENT
from repo_copy import REPO_ROOT, SAMPLE
from tests.service_process import (
    ServiceProcess,
    free_port,
    run_service,
    stop_process_tree,
)

SERVICE_FILE = REPO_ROOT / "src" / "fakeimage" / "serving" / "service.py"
CHROMIUM = Path("/usr/bin/chromium")
VENV_BIN = Path(sys.executable).parent
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVICE_START_S = 300  # TensorFlow import and model load on a small CI machine
PAGE_START_S = 60
RESULT_WAIT_MS = 180_000  # the first /predict warms the model up

pytestmark = pytest.mark.slow

StartPage = Callable[[str], str]


# --- processes ------------------------------------------------------------------------------


@contextmanager
def _process(command: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """Run command in its own session; on exit stop its whole process tree."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        stop_process_tree(process, grace_s=10)


def _log_tail(log: Path, lines: int = 40) -> str:
    text = log.read_text(errors="replace") if log.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


def _wait_until(
    url: str, process: subprocess.Popen, log: Path, timeout_s: float, what: str
) -> None:
    """Poll GET url until it answers 200; fail with the log's tail if it dies or times out."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{what} exited with {process.returncode}:\n{_log_tail(log)}")
        try:
            with opener.open(url, timeout=5) as response:
                if response.status == 200:
                    return
                last = f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
        except OSError as exc:
            last = str(exc)
        time.sleep(0.5)
    pytest.fail(f"{what} not ready at {url} after {timeout_s} s ({last}):\n{_log_tail(log)}")


def _base_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
        **QUIET_ENVIRONMENT,
    )
    return env


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def cifake_images(tmp_path: Path) -> dict[str, Path]:
    """One real CIFAKE image per class, written under tmp_path with its original name."""
    if not SAMPLE.is_file():
        pytest.skip(f"{SAMPLE} is absent: the browser test uploads real CIFAKE images")
    folder = tmp_path / "uploads"
    folder.mkdir()
    images = {}
    with zipfile.ZipFile(SAMPLE) as archive:
        names = sorted(archive.namelist())
        for label in ("FAKE", "REAL"):
            member = next(n for n in names if n.startswith(f"train/{label}/") and n[-1] != "/")
            path = folder / Path(member).name
            path.write_bytes(archive.read(member))
            images[label] = path
    return images


@pytest.fixture
def service(tmp_path: Path) -> Iterator[ServiceProcess]:
    """The real BentoML service on a free port, serving a tiny untrained detector."""
    if not SERVICE_FILE.is_file():
        pytest.skip(f"{SERVICE_FILE.relative_to(REPO_ROOT)} does not exist yet")
    from tests.cards import save_servable_detector

    detector = save_servable_detector(tmp_path / "det", version="1")
    with run_service(
        tmp_path / "bentoml",
        model=detector,
        env=_base_env(),
        cwd=REPO_ROOT,
        start_timeout_s=SERVICE_START_S,
    ) as server:
        yield server


@pytest.fixture
def start_page(tmp_path: Path) -> Iterator[StartPage]:
    """Factory: start_page(service_url) runs the Streamlit page and returns its URL."""
    with ExitStack() as stack:

        def start(service_url: str) -> str:
            port = free_port()
            env = _base_env()
            env["FAKEIMAGE_SERVICE_URL"] = service_url
            command = [str(VENV_BIN / "streamlit"), "run", "src/fakeimage/app/page.py"]
            command += ["--server.headless", "true", "--server.port", str(port)]
            command += ["--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"]
            command += ["--server.fileWatcherType", "none"]
            log = tmp_path / f"streamlit-{port}.log"
            process = stack.enter_context(_process(command, env, log))
            url = f"http://127.0.0.1:{port}"
            _wait_until(f"{url}/_stcore/health", process, log, PAGE_START_S, "Streamlit")
            return url

        yield start


def _open(browser, url: str):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(60_000)
    page.goto(url)
    page.get_by_role("heading", name="Fake image detector").wait_for()
    return page


def _screenshot(page, path: Path) -> Path:
    """Full-page PNG: Streamlit scrolls inside its main section, so grow the viewport first."""
    height = page.evaluate(
        "Math.max(document.body.scrollHeight, ...Array.from("
        "document.querySelectorAll('[data-testid=stMain], [data-testid=stAppViewContainer]'),"
        " e => e.scrollHeight))"
    )
    page.set_viewport_size({"width": 1280, "height": min(int(height) + 40, 16_000)})
    page.wait_for_timeout(500)
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path


# --- tests ----------------------------------------------------------------------------------


@pytest.mark.timeout(600)
def test_page_shows_verdicts_for_a_fake_and_a_real_image(
    service: ServiceProcess,
    start_page: StartPage,
    browser,
    cifake_images: dict[str, Path],
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    from fakeimage.app import client

    page = _open(browser, start_page(service.url))
    expect(page.get_by_text("Ready", exact=True)).to_be_visible()
    files = [cifake_images["FAKE"], cifake_images["REAL"]]
    not_an_image = tmp_path / "notes.png"  # the right extension, but text inside
    not_an_image.write_text("shopping list: milk, eggs\n")
    large = tmp_path / "holiday.png"  # a large photo: the model cannot judge it
    pixels = np.random.default_rng(0).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(large)
    uploads = [*files, large, not_an_image]
    page.locator("input[type=file]").set_input_files([str(p) for p in uploads])

    for index, path in enumerate(files):
        box = page.locator(f".st-key-result-{index}")
        # a verdict (its confidence bar) or an error: fail at once, with the page's message
        outcome = box.locator("[role=progressbar], [data-testid=stAlertContentError]")
        expect(outcome.first).to_be_visible(timeout=RESULT_WAIT_MS)
        if box.get_by_test_id("stAlertContentError").count():
            pytest.fail(f"the page shows an error for {path.name}: {box.inner_text()}")
        expect(box.get_by_role("heading", name=path.name, exact=True)).to_be_visible()
        expect(box).to_contain_text(re.compile(r"P\(fake\) = [01]\.\d{4}"))
        # two pictures: the upload and the occlusion map from the same answer; then the details
        expect(box.get_by_test_id("stImage")).to_have_count(2, timeout=RESULT_WAIT_MS)
        expect(box.get_by_text("Occlusion map:")).to_be_visible()
        expect(box.get_by_text("decision threshold 0.50")).to_be_visible(timeout=RESULT_WAIT_MS)

        text = box.inner_text()
        verdicts = re.findall(r"AI-generated|Real photograph", text)
        assert len(verdicts) == 1, text
        shown = float(re.search(r"P\(fake\) = ([01]\.\d{4})", text).group(1))
        assert (verdicts[0] == "AI-generated") == (shown >= 0.5), text
        assert "test-detector" in text
        # the page shows what the service says about the same bytes
        answer = client.predict(service.url, path.name, path.read_bytes())
        assert shown == pytest.approx(answer.prob_fake, abs=6e-5)
        assert box.locator("[role=progressbar]").count() == 1

    # the large photo: "Uncertain" in place of a verdict, with the service's reasons in words
    box = page.locator(".st-key-result-2")
    expect(box.get_by_role("heading", name="Uncertain")).to_be_visible(timeout=RESULT_WAIT_MS)
    answer = client.predict(service.url, large.name, large.read_bytes())
    assert answer.uncertain and [r.code for r in answer.reasons] == ["too_large", "not_square"]
    for reason in answer.reasons:
        expect(box).to_contain_text(reason.message)
    assert box.locator("[role=progressbar]").count() == 0
    assert not re.findall(r"AI-generated|Real photograph", box.inner_text())

    # the bad upload: the service's own message, and no verdict
    box = page.locator(".st-key-result-3")
    expect(box.get_by_role("heading", name="notes.png", exact=True)).to_be_visible()
    with pytest.raises(client.BadUpload) as refused:
        client.predict(service.url, not_an_image.name, not_an_image.read_bytes())
    expect(box.get_by_test_id("stAlertContentError")).to_contain_text(
        f"The service refused this file: {refused.value.message}", timeout=RESULT_WAIT_MS
    )
    assert box.locator("[role=progressbar]").count() == 0

    expect(page.get_by_text("3 of 4 images checked")).to_be_visible()
    expect(page.get_by_text("1 uncertain", exact=False)).to_be_visible()
    assert page.locator("[data-testid=stException]").count() == 0
    assert page.get_by_test_id("stAlertContentError").count() == 1
    # one request per image: the page never asked /explain
    assert service.answered(endpoint="/predict")
    assert service.answered(endpoint="/explain") == []
    _screenshot(page, tmp_path / "page.png")
    page.close()


@pytest.mark.timeout(180)
def test_page_says_when_the_service_cannot_be_reached(
    start_page: StartPage, browser, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    with socket.socket() as closed:  # bound, never listening: connections are refused
        closed.bind(("127.0.0.1", 0))
        service_url = f"http://127.0.0.1:{closed.getsockname()[1]}"
        page = _open(browser, start_page(service_url))

        error = page.get_by_test_id("stMain").get_by_test_id("stAlertContentError")
        expect(error).to_contain_text(f"Cannot reach the detection service at {service_url}")
        expect(error).to_contain_text("make serve")
        sidebar = page.get_by_test_id("stSidebar")
        expect(sidebar.get_by_text("Not reachable", exact=True)).to_be_visible()

        image = tmp_path / "upload.png"
        buffer = io.BytesIO()
        Image.new("RGB", (32, 32), (10, 120, 200)).save(buffer, "PNG")
        image.write_bytes(buffer.getvalue())
        page.locator("input[type=file]").set_input_files(str(image))
        expect(page.get_by_text("upload.png")).to_be_visible()  # the uploader lists it
        page.wait_for_timeout(1000)
        expect(error).to_contain_text("Cannot reach the detection service")
        assert page.locator(".st-key-result-0").count() == 0
        assert page.locator("[data-testid=stException]").count() == 0
        _screenshot(page, tmp_path / "unreachable.png")
        page.close()
