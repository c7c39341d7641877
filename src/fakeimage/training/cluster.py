"""Which member of a training cluster this process is, from TF_CONFIG.

With `train.strategy: multi_worker_mirrored` every machine runs the same `fakeimage stage train`
with its own TF_CONFIG; all of them train, and only the chief (the task of type `chief`, or
worker 0 when the cluster names none) logs to MLflow and writes the stage's outputs.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from fakeimage.errors import UserError


@dataclass(frozen=True)
class ClusterRole:
    task_type: str
    index: int
    size: int

    @property
    def is_chief(self) -> bool:
        return self.task_type == "chief" or (self.task_type == "worker" and self.index == 0)

    def __str__(self) -> str:
        return f"{self.task_type} {self.index} of {self.size}"


def cluster_role(strategy: str, environ: dict[str, str] | None = None) -> ClusterRole:
    """This process's role; a single process is the chief of a cluster of one."""
    text = (os.environ if environ is None else environ).get("TF_CONFIG", "")
    if strategy != "multi_worker_mirrored":
        return ClusterRole("chief", 0, 1)
    if not text:
        raise UserError(
            "train.strategy is multi_worker_mirrored but TF_CONFIG is not set: give each worker "
            '{"cluster": {"worker": ["host1:port", "host2:port"]}, "task": {"type": "worker", '
            '"index": N}}'
        )
    try:
        config = json.loads(text)
        cluster = config["cluster"]
        task = config["task"]
        size = sum(len(cluster.get(kind, [])) for kind in ("chief", "worker"))
        role = ClusterRole(str(task["type"]), int(task["index"]), size)
    except (ValueError, KeyError, TypeError) as exc:
        raise UserError(f"TF_CONFIG is not a valid cluster description: {exc}") from None
    if role.task_type not in ("chief", "worker") or role.size < 1:
        raise UserError(f"TF_CONFIG task {role.task_type!r} cannot train: use chief or worker")
    return role
