"""Reading the CPU's model and flags: what decides whether bfloat16 training pays off."""

from __future__ import annotations

import os

from fakeimage.hardware import CpuInfo, cpu_info, hardware_description, parse_cpuinfo

XEON_AMX = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz
flags\t\t: fpu sse2 avx2 fma avx512f avx512_bf16 amx_bf16 amx_tile
processor\t: 1
model name\t: Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz
flags\t\t: fpu sse2 avx2 fma avx512f avx512_bf16 amx_bf16 amx_tile
"""
EPYC_AVX2 = """processor\t: 0
model name\t: AMD EPYC
flags\t\t: fpu sse2 avx avx2 fma
"""
GRAVITON = """processor\t: 0
BogoMIPS\t: 2100.00
Features\t: fp asimd sve bf16 i8mm
CPU implementer\t: 0x41
"""


def test_an_amx_xeon_computes_bfloat16_natively() -> None:
    cpu = parse_cpuinfo(XEON_AMX)
    assert cpu.model == "Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz"
    assert cpu.native_bfloat16
    assert cpu.vector_units == "AMX, AVX-512 BF16, AVX-512, AVX2"


def test_an_avx2_only_cpu_would_emulate_bfloat16() -> None:
    cpu = parse_cpuinfo(EPYC_AVX2)
    assert cpu.model == "AMD EPYC"
    assert not cpu.native_bfloat16
    assert cpu.vector_units == "AVX2"


def test_arm_features_are_read_too() -> None:
    cpu = parse_cpuinfo(GRAVITON)
    assert cpu.native_bfloat16
    assert cpu.vector_units == "BF16"
    assert cpu.model  # no 'model name' line on Arm: falls back to the platform's name


def test_unknown_flags_mean_no_native_bfloat16() -> None:
    cpu = parse_cpuinfo("")
    assert cpu.flags == frozenset() and not cpu.native_bfloat16 and cpu.vector_units == ""


def test_the_description_names_this_machine_and_its_cores() -> None:
    description = hardware_description()
    cpu = cpu_info()
    assert isinstance(cpu, CpuInfo)
    assert description.startswith(cpu.model)
    assert description.endswith(f"{os.cpu_count()} cores")
    if cpu.vector_units:
        assert f"({cpu.vector_units})" in description
