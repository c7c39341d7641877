"""The service's settings: the FAKEIMAGE_* environment variables, typed and checked once.

`load_settings` reads them when the service module is imported (in both server processes);
a bad value stops the server with one line naming the variable, never a traceback.

Relative folders (the answer log, the feedback) are taken from the working directory when
the service runs from the project (`fakeimage serve`). A served Bento runs in its own folder,
which BentoML replaces on a rebuild and which is read-only in a container: there they are
taken from `$BENTOML_HOME/fakeimage/` instead (`/home/bentoml/fakeimage/` in the image).
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from fakeimage.data.images import DEFAULT_MAX_PIXELS
from fakeimage.errors import UserError

MB = 1024 * 1024
ENV_PREFIX = "FAKEIMAGE_"


class ServingSettings(BaseSettings):
    """Limits and batching bounds of the service; each field is FAKEIMAGE_<FIELD NAME>."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="ignore")

    max_upload_mb: float = Field(8.0, ge=0.001)
    """The largest file accepted, checked before it is decoded."""
    max_pixels: int = Field(DEFAULT_MAX_PIXELS, ge=1)
    """Images with more pixels are refused from their header (decompression bombs)."""
    max_batch_files: int = Field(256, ge=1)
    """The most files one /predict_batch request may carry."""
    max_batch_mb: float = Field(64.0, ge=0.001)
    """The largest /predict_batch request body."""
    batch_size: int = Field(256, ge=2)
    """Adaptive batching's largest model batch (images)."""
    model_threads: int = Field(1, ge=0)
    """ONNX Runtime threads of the API process, which scores single images (0: all cores).
    One image gains nothing from a second thread, which would only take a core from decoding."""
    batch_threads: int = Field(0, ge=0)
    """ONNX Runtime threads of the batch model worker (0: all cores): batches of 64+ images
    run nearly twice as fast on two cores as on one."""
    batch_latency_ms: int = Field(1000, ge=1)
    """Adaptive batching's latency bound. BentoML waits only as long as batching pays off
    (about a millisecond at low load) but answers 503 for requests queued longer than this,
    so it must cover the stalls of a busy 2-core machine."""

    log_dir: Path | None = Path("logs/answers")
    """Where every answer is logged (JSON lines, rotated); empty: no answer log."""
    log_file_mb: float = Field(8.0, ge=0.001)
    """A log file is closed and a new one started past this size."""
    log_total_mb: float = Field(256.0, ge=0.002)
    """The log folder never holds more: the oldest files go first (at least 2 files' worth)."""
    log_retention_days: float = Field(30.0, gt=0)
    """Log files older than this are deleted."""
    feedback_dir: Path | None = Path("data/feedback")
    """Where POST /feedback stores reports (REAL|FAKE/<source>/, as a labelled source);
    empty: /feedback answers 503."""

    feedback_max_mb: float = Field(1024.0, ge=0.001)
    """A report whose image would take the feedback folder past this size is refused (507)."""

    @field_validator("log_dir", "feedback_dir", mode="before")
    @classmethod
    def _empty_is_off(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("log_dir", "feedback_dir")
    @classmethod
    def _outside_a_bento(cls, value: Path | None) -> Path | None:
        home = bento_data_home()
        return home / value if value is not None and home is not None else value

    @model_validator(mode="after")
    def _log_holds_two_files(self) -> ServingSettings:
        if self.log_total_mb < 2 * self.log_file_mb:
            raise ValueError(
                f"{ENV_PREFIX}LOG_TOTAL_MB={self.log_total_mb:g} must be at least twice "
                f"{ENV_PREFIX}LOG_FILE_MB={self.log_file_mb:g} (the open file and one closed)"
            )
        return self

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * MB)

    @property
    def max_batch_bytes(self) -> int:
        return int(self.max_batch_mb * MB)


def bento_data_home() -> Path | None:
    """Where a served Bento keeps what it writes; None when not serving from a Bento (BentoML
    runs a Bento's service in the Bento's `src/`, beside its `bento.yaml`)."""
    cwd = Path.cwd()
    if cwd.name != "src" or not (cwd.parent / "bento.yaml").is_file():
        return None
    return Path(os.environ.get("BENTOML_HOME") or "~/bentoml").expanduser() / "fakeimage"


def load_settings() -> ServingSettings:
    """The settings from the environment; UserError naming the variable if one is bad."""
    try:
        return ServingSettings()
    except ValidationError as exc:
        raise UserError(_first_problem(exc)) from None


def _first_problem(exc: ValidationError) -> str:
    error = exc.errors()[0]
    if not error["loc"]:  # a rule across fields, which names its variables itself
        return str(error["msg"]).removeprefix("Value error, ")
    name = ENV_PREFIX + str(error["loc"][0]).upper()
    value = error.get("input")
    context = error.get("ctx") or {}
    if error["type"] in ("float_parsing", "int_parsing", "int_from_float", "float_type"):
        problem = "is not a whole number" if "int" in error["type"] else "is not a number"
    elif "ge" in context:
        problem = f"must be at least {context['ge']:g}"
    else:
        problem = error["msg"].lower()
    return f"{name}={value!r} {problem}; unset it to use the default"
