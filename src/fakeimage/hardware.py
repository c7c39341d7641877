"""What the machine can do: the CPU model and the instruction sets that decide training speed.

Training time depends less on the clock than on the matrix units: a CPU with AMX or
AVX-512 BF16 runs bfloat16 convolutions natively, while on an AVX2-only CPU TensorFlow
emulates them, about ten times slower than float32 (measured on a 2-core AMD EPYC).
"""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")

NATIVE_BFLOAT16_FLAGS = frozenset({"amx_bf16", "avx512_bf16", "bf16"})
"""x86 (amx_bf16, avx512_bf16) and Arm (bf16) flags for bfloat16 arithmetic in hardware."""

_VECTOR_UNITS = {
    "amx_bf16": "AMX",
    "avx512_bf16": "AVX-512 BF16",
    "avx512f": "AVX-512",
    "avx2": "AVX2",
    "bf16": "BF16",
}
"""Flags worth naming in a hardware description, widest first, with the names people use."""


@dataclass(frozen=True)
class CpuInfo:
    model: str
    flags: frozenset[str]

    @property
    def native_bfloat16(self) -> bool:
        return bool(self.flags & NATIVE_BFLOAT16_FLAGS)

    @property
    def vector_units(self) -> str:
        """The matrix/vector instruction sets that set training speed, e.g. 'AMX, AVX-512'."""
        return ", ".join(name for flag, name in _VECTOR_UNITS.items() if flag in self.flags)


def parse_cpuinfo(text: str) -> CpuInfo:
    """Model name and feature flags from /proc/cpuinfo text (x86 'flags', Arm 'Features')."""
    model, flags = "", frozenset[str]()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and not model:
            model = value.strip()
        elif key in ("flags", "Features") and not flags:
            flags = frozenset(value.split())
    return CpuInfo(model or platform.processor() or platform.machine(), flags)


def cpu_info() -> CpuInfo:
    """This machine's CPU; without /proc/cpuinfo (macOS, Windows) the flags are unknown."""
    try:
        return parse_cpuinfo(CPUINFO.read_text())
    except OSError:
        return parse_cpuinfo("")


def hardware_description() -> str:
    """CPU model, its vector units and core count, plus GPUs if TensorFlow sees any."""
    cpu = cpu_info()
    description = cpu.model
    if units := cpu.vector_units:
        description += f" ({units})"
    description += f", {os.cpu_count()} cores"
    if "tensorflow" in sys.modules:
        gpus = sys.modules["tensorflow"].config.list_physical_devices("GPU")
        if gpus:
            description += f", {len(gpus)} GPU(s)"
    return description
