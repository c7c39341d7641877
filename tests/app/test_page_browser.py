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
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fakeimage import QUIET_ENVIRONMENT
from fakeimage.data.metadata import strip_metadata
from repo_copy import REPO_ROOT, SAMPLE
from tests.browser import chromium
from tests.service_process import (
    ServiceProcess,
    free_port,
    run_service,
    stop_process_tree,
    wait_until_up,
)

SERVICE_FILE = REPO_ROOT / "src" / "fakeimage" / "serving" / "service.py"
VENV_BIN = Path(sys.executable).parent
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


def _base_env() -> dict[str, str]:
    """This environment without the service's own settings (other tests' conftests may set
    them), so the service keeps its answer log and feedback under its BENTOML_HOME."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("FAKEIMAGE_")}
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
    with chromium() as launched:
        yield launched


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
    """Factory: start_page(service_url) runs the page as a user does, `make app`, with the
    service's port as SERVE_PORT (so it checks that `make app` follows it), and returns its URL."""
    with ExitStack() as stack:

        def start(service_url: str) -> str:
            port = free_port()
            env = _base_env()
            env.pop("FAKEIMAGE_SERVICE_URL", None)
            env.update(
                STREAMLIT_SERVER_HEADLESS="true",
                STREAMLIT_SERVER_FILE_WATCHER_TYPE="none",
                STREAMLIT_BROWSER_GATHER_USAGE_STATS="false",
            )
            service_port = urllib.parse.urlsplit(service_url).port
            command = ["make", "--no-print-directory", "app"]
            command += [f"SERVE_PORT={service_port}", f"APP_PORT={port}"]
            log = tmp_path / f"streamlit-{port}.log"
            process = stack.enter_context(_process(command, env, log))
            url = f"http://127.0.0.1:{port}"
            wait_until_up(f"{url}/_stcore/health", process, log, PAGE_START_S, "Streamlit")
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


SENTENCE = re.compile(
    r"P\(fake\) (0\.\d\d|above 0\.99|below 0\.01): (more than 0\.\d\d|0\.\d\d|at or just|just) "
    r"(above|below) the decision threshold 0\.50"
)
"""The sentence that places P(fake) against the threshold (the test detector's is 0.50)."""
COLOURS = {"AI-generated": "#d62728", "Real photograph": "#2ca02c", "Uncertain": "#ff8c00"}


def _check_verdict(box, answer) -> str:
    """The open result shows the answer: heading, sentence, bar; returns the box's text."""
    from playwright.sync_api import expect

    expect(box.locator("[role=meter]")).to_be_visible(timeout=RESULT_WAIT_MS)
    text = box.inner_text()
    heading = box.locator("h3").first.inner_text()
    verdict = re.search(r"AI-generated|Real photograph|Uncertain", heading).group(0)
    match = SENTENCE.search(text)
    assert match, text
    shown, side = match.group(1), match.group(3)
    if shown.startswith(("above", "below")):
        assert abs(answer.prob_fake - (1 if shown.startswith("above") else 0)) < 0.01
    else:
        assert float(shown) == pytest.approx(answer.prob_fake, abs=0.005)
    assert (side == "above") == (answer.prob_fake >= 0.5)
    if verdict != "Uncertain":
        assert (verdict == "AI-generated") == (side == "above"), text
    meter = box.locator("[role=meter]")
    assert float(meter.get_attribute("aria-valuenow")) == pytest.approx(answer.prob_fake, 1e-4)
    assert meter.get_attribute("data-colour") == COLOURS[verdict]
    assert not re.search(r"100%|1\.00\b|0\.\d{4}", text), text  # no false precision
    return text


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

    url = start_page(service.url)
    page = _open(browser, url)
    expect(page.get_by_text("Ready", exact=True)).to_be_visible()
    files = [cifake_images["FAKE"], cifake_images["REAL"]]
    not_an_image = tmp_path / "notes.png"  # the right extension, but text inside
    not_an_image.write_text("shopping list: milk, eggs\n")
    large = tmp_path / "holiday.png"  # a large photo: the model cannot judge it
    pixels = np.random.default_rng(0).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(large)
    uploads = [*files, large, not_an_image]
    page.locator("input[type=file]").set_input_files([str(p) for p in uploads])

    # four uploads: the compact view, a table of verdicts first
    table = page.locator(".st-key-verdicts")
    expect(table).to_be_visible(timeout=RESULT_WAIT_MS)
    expect(page.get_by_text("3 of 4 images checked")).to_be_visible()
    expect(page.get_by_text("1 uncertain", exact=False)).to_be_visible()
    answers = [client.predict(service.url, p.name, p.read_bytes()) for p in [*files, large]]
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(4)
    for index, (path, answer) in enumerate(zip(uploads, [*answers, None], strict=True)):
        row = rows.nth(index).inner_text()
        assert path.name in row, row
        if answer is None:
            assert "not checked" in row
            continue
        verdict = "Uncertain" if answer.uncertain else _named(answer.label)
        assert verdict in row and (answer.uncertain or "too large" not in row), row

    for index, (path, answer) in enumerate(zip(files, answers[:2], strict=True)):
        box = page.locator(f".st-key-result-{index}")
        box.get_by_text(path.name).first.click()  # the details open on demand
        text = _check_verdict(box, answer)
        if not answer.uncertain:
            assert "Confidence in the verdict:" in text
            # the upload and the occlusion map in its shape, said to be the evidence
            expect(box.get_by_test_id("stImage")).to_have_count(2, timeout=RESULT_WAIT_MS)
            expect(
                box.get_by_text("warm colours mark the evidence for the verdict")
            ).to_be_visible()
        expect(box.get_by_text("model test-detector v1 · input")).to_be_visible()

    # the large photo: "Uncertain" in place of a verdict, with the service's reasons in words,
    # and its occlusion map not offered as evidence
    box = page.locator(".st-key-result-2")
    box.get_by_text(large.name).first.click()
    answer = answers[2]
    assert answer.uncertain and [r.code for r in answer.reasons] == ["too_large", "not_square"]
    text = _check_verdict(box, answer)
    assert box.locator("h3").first.inner_text().endswith("Uncertain")
    assert "cannot judge this image reliably" in text and "leans towards" in text
    for reason in answer.reasons:
        expect(box).to_contain_text(reason.message)
    assert "evidence for the verdict" not in text and "drove" not in text
    expect(box.get_by_text("Where the model looked (not a verdict)")).to_be_visible()

    # the bad upload: the service's own message, and no verdict
    box = page.locator(".st-key-result-3")
    with pytest.raises(client.BadUpload) as refused:
        client.predict(service.url, not_an_image.name, not_an_image.read_bytes())
    expect(box.get_by_test_id("stAlertContentError")).to_contain_text(
        f"The service refused this file: {refused.value.message}", timeout=RESULT_WAIT_MS
    )
    assert box.locator("[role=meter]").count() == 0
    assert page.locator("[data-testid=stException]").count() == 0
    assert page.get_by_test_id("stAlertContentError").count() == 1
    _screenshot(page, tmp_path / "page-many.png")

    page.close()

    # one upload (a new session): shown in full, the verdict above the fold and larger than
    # the file's name
    page = _open(browser, url)
    page.locator("input[type=file]").set_input_files(str(files[0]))
    box = page.locator(".st-key-result-0")
    _check_verdict(box, answers[0])
    assert page.locator(".st-key-verdicts").count() == 0
    heading = box.locator("h3").first
    name = box.get_by_text(files[0].name, exact=True).first
    size = "e => parseFloat(getComputedStyle(e).fontSize)"
    assert heading.evaluate(size) > 1.3 * name.evaluate(size)
    top = heading.evaluate("e => e.getBoundingClientRect().top")
    assert 0 < top < 900, f"the verdict is {top:.0f} px down, below the fold"
    # "this verdict is wrong": the report reaches the service, with the image only by consent
    box.get_by_text("This verdict is wrong").click()
    truth = "Real photograph" if answers[0].label == "FAKE" else "AI-generated"
    box.get_by_text(truth, exact=True).click()
    box.get_by_label("Made with (optional)").fill("SDXL")
    box.get_by_text("Share this image").click()
    box.get_by_role("button", name="Report").click()
    expect(box.get_by_text("Thank you: reported as")).to_contain_text("with the image")
    label = "REAL" if truth == "Real photograph" else "FAKE"
    stored = list((tmp_path / "bentoml" / "feedback" / label / "sdxl").glob("*.jpg"))
    assert [p.read_bytes() for p in stored] == [strip_metadata(files[0].read_bytes())]
    # one request per image: the page never asked /explain
    assert service.answered(endpoint="/predict")
    assert service.answered(endpoint="/explain") == []
    _screenshot(page, tmp_path / "page-one.png")
    page.close()


def _named(label: str) -> str:
    return {"FAKE": "AI-generated", "REAL": "Real photograph"}[label]


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
