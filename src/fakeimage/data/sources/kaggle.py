"""Official CIFAKE from Kaggle, through Kaggle's public REST API and the user's credentials.

The API is plain HTTPS with basic authentication, so this speaks it directly instead of
pulling in the Kaggle client (which reads credentials at import time). The endpoint can be
moved with FAKEIMAGE_KAGGLE_API, which is also how the tests point it at a local server.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from fakeimage.data.sources.download import download
from fakeimage.errors import UserError

DEFAULT_API = "https://www.kaggle.com/api/v1"

_HOW_TO = (
    "set KAGGLE_USERNAME and KAGGLE_KEY, or save the kaggle.json from "
    "kaggle.com > Settings > API > Create New Token as ~/.kaggle/kaggle.json"
)


def kaggle_credentials() -> tuple[str, str]:
    """(username, key) from the environment or kaggle.json, as the Kaggle client finds them."""
    username, key = os.environ.get("KAGGLE_USERNAME"), os.environ.get("KAGGLE_KEY")
    if username and key:
        return username, key
    candidates = [
        Path.home() / ".kaggle" / "kaggle.json",
        Path.home() / ".config/kaggle/kaggle.json",
    ]
    if config_dir := os.environ.get("KAGGLE_CONFIG_DIR"):
        candidates.insert(0, Path(config_dir) / "kaggle.json")
    for path in candidates:
        if path.is_file():
            try:
                token = json.loads(path.read_text())
                return str(token["username"]), str(token["key"])
            except (ValueError, KeyError, TypeError):
                raise UserError(f"{path} is not a valid Kaggle token: {_HOW_TO}") from None
    raise UserError(f"Kaggle credentials not found: {_HOW_TO}")


def download_kaggle_dataset(dataset: str, destination: Path, *, sha256: str | None) -> Path:
    """Download the dataset's zip (owner/name) to destination; return it."""
    owner, _, name = dataset.partition("/")
    if not owner or not name or "/" in name:
        raise UserError(f"data.source.dataset must look like 'owner/name', got {dataset!r}")
    credentials = kaggle_credentials()
    api = os.environ.get("FAKEIMAGE_KAGGLE_API", DEFAULT_API).rstrip("/")
    hints = {
        401: f"Kaggle rejected the credentials (HTTP 401): {_HOW_TO}",
        403: f"Kaggle refused access to {dataset} (HTTP 403): accept its terms on kaggle.com",
        404: f"Kaggle has no dataset {dataset!r} (HTTP 404): check data.source.dataset",
    }
    return download(
        f"{api}/datasets/download/{owner}/{name}",
        destination,
        sha256=sha256,
        auth=credentials,
        status_hints=hints,
    )
