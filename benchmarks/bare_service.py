"""A bare BentoML service: /predict with the real service's upload type and no model.

What BentoML itself costs per request (HTTP, multipart parsing into `Upload`, the answer's
JSON): the latency benchmark serves it the same way as the real service and subtracts it, so
what is left of /predict's time is the service's own work (`benchmarks.latency_floor`).

    bentoml serve benchmarks.bare_service:BareUpload
"""

from __future__ import annotations

import bentoml
from pydantic import BaseModel

from fakeimage.serving.uploads import Upload


class Received(BaseModel):
    bytes: int


@bentoml.service(workers=1, traffic={"timeout": 60, "max_concurrency": 64})
class BareUpload:
    """Reads the upload and answers its size: the real /predict minus every check and model."""

    @bentoml.api(route="/predict")
    async def predict(self, image: Upload) -> Received:
        image.file.seek(0)
        return Received(bytes=len(image.file.read()))
