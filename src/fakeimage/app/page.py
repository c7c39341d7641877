"""The web page: upload images, see whether each looks AI-generated, how sure the model is,
and where it looked.

Run it with `make app` (Streamlit on http://127.0.0.1:8501). It talks to the BentoML service
(`make serve`) at FAKEIMAGE_SERVICE_URL (`make app` sets it from SERVE_PORT; default
http://127.0.0.1:3000), which can also be changed in the sidebar. All HTTP work happens in
:mod:`fakeimage.app.client`, all wording in :mod:`fakeimage.app.wording`; this script renders.

One or two uploads are shown in full. From COMPACT_FROM uploads on, a table of verdicts comes
first and each image's details open on demand. Stable hooks for tests: each result is a
container with the CSS class ``st-key-result-<n>`` (n counts uploads from 0) holding the file
name, the verdict as a heading, the sentence with P(fake) and the threshold, and a bar with
``role="meter"``; the table has the class ``st-key-verdicts``.
"""

from __future__ import annotations

import base64
import re

import streamlit as st

from fakeimage.app import client, wording
from fakeimage.app.pictures import display_image, map_in_shape
from fakeimage.serving.schemas import Prediction

ACCEPTED_TYPES = ["jpg", "jpeg", "png", "webp", "gif", "bmp", "tiff", "tif"]
# (No bare strings at module level here: Streamlit's "magic" would print them on the page.)
COMPACT_FROM = 3

ICONS = {
    "FAKE": ":material/smart_toy:",
    "REAL": ":material/photo_camera:",
    "UNCERTAIN": ":material/help:",
}

INTRO = (
    "Upload images: a neural network says whether each looks **AI-generated** or like a **real "
    "photograph**, or that it **cannot judge** it. It learnt from small (32×32) photos and "
    "Stable Diffusion images: treat every answer as a hint, not as proof."
)

_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~:$])")


def _escape(text: str) -> str:
    """Text shown literally inside Streamlit markdown (file names can hold any character)."""
    return _MARKDOWN_SPECIALS.sub(r"\\\1", text)


@st.cache_data(show_spinner=False, ttl=600, max_entries=64)
def _predict(url: str, name: str, data: bytes) -> Prediction:
    """The verdict and its occlusion map, in one request per image."""
    return client.predict(url, name, data, explain=True)


def _sidebar() -> str:
    st.sidebar.header("Detection service")
    return st.sidebar.text_input(
        "Service URL",
        value=client.service_url(),
        help=f"Where `make serve` listens; set the default with env {client.SERVICE_URL_ENV}.",
    )


def _unreachable(error: client.ServiceUnavailable) -> None:
    st.error(
        f"**Cannot reach the detection service at `{error.url}`** ({error.reason}).\n\n"
        "Start it in another terminal with `make serve` (it serves `models/champion`, or the "
        "model named by env `FAKEIMAGE_MODEL`), or correct the service URL in the sidebar.",
        icon=":material/cloud_off:",
    )


def _check_service(url: str) -> bool:
    """Show the service's state in the sidebar (and an error on the page); True if reachable."""
    try:
        ready = client.is_ready(url)
    except client.ServiceUnavailable as error:
        st.sidebar.error("Not reachable", icon=":material/cloud_off:")
        _unreachable(error)
        return False
    if ready:
        st.sidebar.success("Ready", icon=":material/check_circle:")
    else:
        st.sidebar.warning("Starting up (not ready yet)", icon=":material/hourglass_top:")
        st.warning(
            f"The service at {url} answers but is not ready yet (it may still be loading the "
            "model); results may fail until it is.",
            icon=":material/hourglass_top:",
        )
    return True


# Streamlit's names for the verdict colours of `wording.COLOURS`
THEME = {"FAKE": "red", "REAL": "green", "UNCERTAIN": "orange"}


def _kind(answer: Prediction) -> str:
    return "UNCERTAIN" if answer.uncertain else answer.label


def _headline(answer: Prediction) -> str:
    kind = _kind(answer)
    return f":{THEME[kind]}[{ICONS[kind]} {wording.verdict_name(answer)}]"


def _offer_feedback(url: str, name: str, data: bytes, answer: Prediction, key: str) -> None:
    """'This verdict is wrong': the true class, the generator if known, and the image only if
    the person ticks the consent box."""
    if not answer.request_id:
        return
    with (
        st.expander("This verdict is wrong", icon=":material/flag:"),
        st.form(key=f"feedback-{key}", border=False),
    ):
        truth = st.radio(
            "What is it really?",
            ["AI-generated", "Real photograph"],
            index=0 if answer.label == "REAL" else 1,
            horizontal=True,
        )
        source = st.text_input("Made with (optional)", placeholder="e.g. sdxl, midjourney")
        consent = st.checkbox(
            "Share this image so the detector can learn from it (kept for retraining)"
        )
        if not st.form_submit_button("Report"):
            return
    label = "FAKE" if truth == "AI-generated" else "REAL"
    try:
        client.report_wrong(
            url,
            answer.request_id,
            label,
            source=source.strip().lower(),
            image=(name, data) if consent else None,
        )
    except client.ServiceError as error:
        st.error(f"The report was not taken: {_escape(error.message)}", icon=":material/error:")
        return
    kept = "with the image" if consent else "without the image"
    st.success(f"Thank you: reported as {truth.lower()}, {kept}.", icon=":material/check:")


def _show_answer(data: bytes, answer: Prediction) -> None:
    """The verdict first and largest, the sentence that places it against the threshold, the
    bar, then the upload beside the occlusion map, then the details."""
    st.markdown(f"### {_headline(answer)}")
    st.markdown(_escape(wording.summary(answer)))
    for reason in answer.reasons:
        st.markdown(f"- {_escape(reason.message)}")
    st.markdown(wording.scale(answer), unsafe_allow_html=True)

    left, right = st.columns(2, gap="medium")
    preview = display_image(data)
    if preview is not None:
        left.image(preview, caption="Your image", width="stretch")
    else:
        left.caption("No preview for this file.")
    if answer.explanation is None:
        right.info("The service sent no occlusion map.", icon=":material/visibility_off:")
    else:
        size = preview.size if preview is not None else (answer.input.width, answer.input.height)
        picture = map_in_shape(base64.b64decode(answer.explanation.png_base64), *size)
        where = "over the 32×32 image the model scored, stretched back to your image's shape"
        if answer.uncertain:
            with right.expander("Where the model looked (not a verdict)"):
                st.image(picture, width="stretch")
                st.caption(
                    f"Occlusion map {where}. The answer is uncertain: warm colours mark what "
                    "its lean rests on, not evidence to act on."
                )
        else:
            right.image(
                picture,
                caption=f"Occlusion map {where}: warm colours mark the evidence for the verdict",
                width="stretch",
            )

    shown = answer.input
    kind = " ".join(part for part in (shown.format, shown.mode) if part)
    details = [
        f"model {answer.model.name} v{answer.model.version}",
        f"input {shown.width}×{shown.height} {kind}, scored at 32×32",
    ]
    st.caption(_escape(" · ".join(details)))
    for warning in answer.warnings:
        st.warning(_escape(warning), icon=":material/warning:")


def _table(names: list[str], answers: list[Prediction | str]) -> None:
    """Every upload in one row: the compact view for many images."""
    rows = ["| # | File | Verdict | P(fake) | Why uncertain |", "|---:|---|---|---|---|"]
    for index, (name, answer) in enumerate(zip(names, answers, strict=True)):
        if isinstance(answer, str):
            rows.append(f"| {index + 1} | {_escape(name)} | :gray[not checked] | - | - |")
            continue
        cells = [_headline(answer), wording.probability(answer.prob_fake), wording.reasons(answer)]
        rows.append(f"| {index + 1} | {_escape(name)} | " + " | ".join(cells) + " |")
    with st.container(key="verdicts"):
        st.markdown("\n".join(rows))
        st.caption("Open an image below for its explanation and details.")


def _summary(answers: list[Prediction | str]) -> str:
    done = [a for a in answers if not isinstance(a, str)]
    fake = sum(not a.uncertain and a.label == "FAKE" for a in done)
    real = sum(not a.uncertain and a.label == "REAL" for a in done)
    uncertain = sum(a.uncertain for a in done)
    checked = f"{len(done)} of {len(answers)}" if len(done) < len(answers) else f"{len(done)}"
    return (
        f"**{checked} images checked:** {fake} AI-generated, "
        f"{real} real photograph{'' if real == 1 else 's'}, {uncertain} uncertain."
    )


def _check_all(url: str, uploads: list) -> list[Prediction | str] | None:
    """Each upload's answer, or the service's refusal in words; None when it is unreachable."""
    answers: list[Prediction | str] = []
    for number, upload in enumerate(uploads, start=1):
        try:
            with st.spinner(f"Checking {upload.name} ({number} of {len(uploads)})…"):
                answers.append(_predict(url, upload.name, upload.getvalue()))
        except client.ServiceUnavailable as error:
            _unreachable(error)
            return None
        except client.BadUpload as error:
            answers.append(f"The service refused this file: {error.message}")
        except client.ServiceError as error:
            answers.append(error.message)
    return answers


def main() -> None:
    st.set_page_config(
        page_title="Fake image detector",
        page_icon=":material/image_search:",
        layout="centered",
    )
    st.title("Fake image detector")
    st.markdown(INTRO)

    url_text = _sidebar()
    try:
        url = client.normalize_url(url_text)
    except ValueError as error:
        st.sidebar.error("Invalid URL", icon=":material/link_off:")
        st.error(f"Invalid service URL: {_escape(str(error))}", icon=":material/link_off:")
        return

    uploads = st.file_uploader(
        "Images to check",
        type=ACCEPTED_TYPES,
        accept_multiple_files=True,
        help="JPEG, PNG, WebP, GIF, BMP or TIFF; several at once.",
    )
    reachable = _check_service(url)
    st.sidebar.divider()
    st.sidebar.markdown(
        "**Reading the results**\n\n"
        "- *P(fake)* is the model's calibrated probability that the image is AI-generated (of "
        "images given 0.90, about nine in ten are, on data like CIFAKE's). It is shown to two "
        "decimals, and as *above 0.99* rather than 1.00: no answer is certain.\n"
        "- The image is called AI-generated when P(fake) reaches the *decision threshold*; "
        "the bar marks it, and the sentence says on which side P(fake) lies and by how much.\n"
        "- *Uncertain* means the model cannot judge the image: its score is too close to the "
        "threshold, or the image is unlike what it learnt. The reasons are given; what it leans "
        "towards is not a verdict.\n"
        "- The *occlusion map* marks in warm colours the regions whose hiding lowers the "
        "confidence in the verdict most. The model sees every upload shrunk to 32×32 pixels; "
        "the map is stretched back to the image's shape."
    )
    if not reachable or not uploads:
        return

    answers = _check_all(url, uploads)
    if answers is None:
        return
    compact = len(uploads) >= COMPACT_FROM
    if len(uploads) > 1:
        st.markdown(_summary(answers))
    if compact:
        _table([upload.name for upload in uploads], answers)
    for index, (upload, answer) in enumerate(zip(uploads, answers, strict=True)):
        with st.container(border=True, key=f"result-{index}"):
            if isinstance(answer, str):
                st.caption(_escape(upload.name))
                st.error(_escape(answer), icon=":material/block:")
            elif compact:
                label = f"{index + 1}. {upload.name}: {wording.verdict_name(answer)}"
                with st.expander(_escape(label)):
                    _show_answer(upload.getvalue(), answer)
                    _offer_feedback(url, upload.name, upload.getvalue(), answer, str(index))
            else:
                st.caption(_escape(upload.name))
                _show_answer(upload.getvalue(), answer)
                _offer_feedback(url, upload.name, upload.getvalue(), answer, str(index))


main()
