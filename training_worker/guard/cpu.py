"""Which dtype a CPU should run the guard in, and how to keep bf16 on CPUs that advertise AMX but
cannot run it.

bf16 is about twice as fast as float32 where the CPU computes it in hardware (AVX512-BF16, AMX), and
several times slower where it is emulated (AVX2 only): there the guard runs in float32.

Some virtual machines report the AMX flags while the hypervisor leaves AMX state disabled; oneDNN
then picks AMX kernels for bf16 matmuls and the process dies with SIGILL. A one-second probe in a
child process finds out, and caps oneDNN at AVX512-BF16 (still about twice fp32's speed) when needed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from functools import cache

ISA_VARIABLE = "ONEDNN_MAX_CPU_ISA"
SAFE_ISA = "AVX512_CORE_BF16"
_PROBE = (
    "import torch\n"
    "x = torch.randn(8, 256, dtype=torch.bfloat16)\n"
    "torch.nn.functional.linear(x, torch.randn(256, 256, dtype=torch.bfloat16))\n"
)


def _advertises_amx() -> bool:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            return any(line.startswith("flags") and "amx_tile" in line.split() for line in cpuinfo)
    except OSError:
        return False


def cpu_computes_bf16() -> bool:
    """Whether this CPU does bf16 arithmetic in hardware (AVX512-BF16 or AMX)."""
    import torch

    capability = str(getattr(torch.backends.cpu, "get_cpu_capability", lambda: "")()).upper()
    return bool(getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)()) or "AMX" in capability


@cache
def ensure_usable_cpu_isa() -> str | None:
    """Set ONEDNN_MAX_CPU_ISA when bf16 would crash; returns the value set, if any. Runs once per process."""
    if ISA_VARIABLE in os.environ or not _advertises_amx():
        return None
    probe = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, timeout=120, env={**os.environ}, check=False
    )
    if probe.returncode < 0:  # killed by a signal: SIGILL
        os.environ[ISA_VARIABLE] = SAFE_ISA
        return SAFE_ISA
    return None
