"""The web page: upload images, see whether each looks AI-generated, and why.

Run it with `make app` (Streamlit on http://127.0.0.1:8501). It talks to the BentoML service
(`make serve`) at FAKEIMAGE_SERVICE_URL (default http://127.0.0.1:3000), which can also be
changed in the sidebar. All HTTP work happens in :mod:`fakeimage.app.client`; this script only
renders.

Stable hooks for tests: each result is a bordered container with the CSS class
``st-key-result-<n>`` (n counts uploads from 0), a heading with the file name, the verdict text
("AI-generated" or "Real photograph") and the text "P(fake) = 0.xxxx".
"""

from __future__ import annotations

import base64
import re

import streamlit as st
from PIL import Image, ImageOps

from fakeimage.app import client
from fakeimage.data.images import BadImageError, decode_image
from fakeimage.serving.schemas import Prediction

ACCEPTED_TYPES = ["jpg", "jpeg", "png", "webp", "gif", "bmp", "tiff", "tif"]
# Previews are scaled to about this many pixels on their longer side (tiny images crisply).
# (No bare strings at module level here: Streamlit's "magic" would print them on the page.)
DISPLAY_PX = 320

VERDICTS = {
    "FAKE": ("AI-generated", "red", ":material/smart_toy:"),
    "REAL": ("Real photograph", "green", ":material/photo_camera:"),
}

UNCERTAIN_ICON = ":material/help:"

INTRO = (
    "Upload one or more images and a neural network tells you whether each one looks "
    "**AI-generated** or like a **real photograph**, how sure it is, and which regions drove "
    "its decision (an occlusion heat map). The model learnt from CIFAKE: 32×32-pixel real "
    "photographs from CIFAR-10 and Stable Diffusion images made to imitate them. Every upload "
    "is shrunk to 32×32 pixels before it is scored, so small, CIFAR-like pictures are judged "
    "best. When an image is too far from those (large, tiny, stretched, blurred, or simply "
    "unlike anything the model learnt) or its score is too close to call, the answer is "
    "**Uncertain**, with the reason. Treat every result as a hint, not as proof."
)

_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~:$])")


def _escape(text: str) -> str:
    """Text shown literally inside Streamlit markdown (file names can hold any character)."""
    return _MARKDOWN_SPECIALS.sub(r"\\\1", text)


@st.cache_data(show_spinner=False, ttl=600, max_entries=64)
def _predict(url: str, name: str, data: bytes) -> Prediction:
    """The verdict and its occlusion map, in one request per image."""
    return client.predict(url, name, data, explain=True)


def _display_image(data: bytes) -> Image.Image | None:
    """An RGB(A) picture to show: big ones shrunk, tiny ones enlarged without blurring."""
    try:
        image = ImageOps.exif_transpose(decode_image(data))
        if image.mode not in ("RGB", "RGBA"):
            has_alpha = image.mode in ("LA", "PA") or "transparency" in image.info
            image = image.convert("RGBA" if has_alpha else "RGB")
    except (BadImageError, OSError, ValueError):
        return None
    image.thumbnail((DISPLAY_PX, DISPLAY_PX), Image.Resampling.LANCZOS)
    factor = DISPLAY_PX // max(image.size)
    if factor > 1:
        image = image.resize(
            (image.width * factor, image.height * factor), Image.Resampling.NEAREST
        )
    return image


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


def _show_result(data: bytes, answer: Prediction) -> None:
    verdict, color, icon = VERDICTS[answer.label]
    if answer.uncertain:
        st.markdown(f"#### :orange[{UNCERTAIN_ICON} Uncertain]")
        st.markdown(
            f"The model cannot judge this image reliably. It leans towards *{verdict.lower()}* "
            f"(P(fake) = {answer.prob_fake:.2f}), but do not rely on that:"
        )
        for reason in answer.reasons:
            st.markdown(f"- {_escape(reason.message)}")
    else:
        st.markdown(f"#### :{color}[{icon} {verdict}]")
        st.progress(
            min(max(answer.confidence, 0.0), 1.0),
            text=f"Confidence {answer.confidence:.0%} · P(fake) = {answer.prob_fake:.4f}",
        )

    left, right = st.columns(2, gap="medium")
    preview = _display_image(data)
    if preview is not None:
        left.image(preview, caption="Uploaded image", width="stretch")
    else:
        left.caption("No preview for this file.")
    if answer.explanation is None:
        right.info("The service sent no occlusion map.", icon=":material/visibility_off:")
    else:
        right.image(
            base64.b64decode(answer.explanation.png_base64),
            caption="Occlusion map: warm colours drove the verdict",
            width="stretch",
        )

    shown = answer.input
    kind = " ".join(part for part in (shown.format, shown.mode) if part)
    details = [
        f"decision threshold {answer.threshold:.2f}",
        f"model {answer.model.name} v{answer.model.version}",
        f"input {shown.width}×{shown.height} {kind}",
    ]
    st.caption(_escape(" · ".join(details)))
    for warning in answer.warnings:
        st.warning(_escape(warning), icon=":material/warning:")


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
        "- *P(fake)* is the model's probability that the image is AI-generated; it is called "
        "AI-generated when P(fake) reaches the model's decision threshold.\n"
        "- *Confidence* is the probability of the verdict shown; probabilities are calibrated "
        "(of images given 90%, about nine in ten are right, on data like CIFAKE's).\n"
        "- *Uncertain* means the model cannot judge the image: its score is too close to the "
        "threshold, or the image is unlike what it learnt. The reason is given.\n"
        "- The *occlusion map* marks in warm colours the regions whose hiding lowers the "
        "confidence in the verdict most: the evidence it rests on."
    )
    if not reachable or not uploads:
        return

    summary = st.empty()
    counts = {"FAKE": 0, "REAL": 0, "uncertain": 0}
    for index, upload in enumerate(uploads):
        name = upload.name
        data = upload.getvalue()
        with st.container(border=True, key=f"result-{index}"):
            st.subheader(_escape(name), anchor=False)
            try:
                with st.spinner(f"Checking {name}…"):
                    answer = _predict(url, name, data)
            except client.ServiceUnavailable as error:
                _unreachable(error)
                return
            except client.BadUpload as error:
                st.error(
                    f"The service refused this file: {_escape(error.message)}",
                    icon=":material/block:",
                )
                continue
            except client.ServiceError as error:
                st.error(_escape(error.message), icon=":material/error:")
                continue
            counts["uncertain" if answer.uncertain else answer.label] += 1
            _show_result(data, answer)
    checked = sum(counts.values())
    if len(uploads) > 1:
        of_total = f"{checked} of {len(uploads)}" if checked < len(uploads) else f"{checked}"
        summary.markdown(
            f"**{of_total} images checked:** {counts['FAKE']} AI-generated, "
            f"{counts['REAL']} real photograph{'' if counts['REAL'] == 1 else 's'}, "
            f"{counts['uncertain']} uncertain."
        )


main()
