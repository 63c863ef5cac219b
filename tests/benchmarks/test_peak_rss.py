"""benchmarks/peak_rss.py: the peak is summed over the command's whole process tree."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "peak_rss.py"
_SPEC = importlib.util.spec_from_file_location("peak_rss", _PATH)
peak_rss = importlib.util.module_from_spec(_SPEC)
sys.modules["peak_rss"] = peak_rss
_SPEC.loader.exec_module(peak_rss)

# A parent holding 120 MiB starts a child holding 120 MiB; both stay alive for a while.
HOLD = "b = bytearray(120 * 2**20); b[::4096] = b'x' * len(b[::4096]); import time; time.sleep(1.5)"
PARENT = (
    "import subprocess, sys; "
    f"child = subprocess.Popen([sys.executable, '-c', {HOLD!r}]); "
    f"exec({HOLD!r}); child.wait()"
)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads Linux /proc")
def test_peak_counts_the_parent_and_its_child() -> None:
    result = peak_rss.measure([sys.executable, "-c", PARENT], every_s=0.05)
    assert result["returncode"] == 0
    # Each process holds its 120 MiB touched buffer: the sum sees both, a single one only one.
    assert result["peak_single_mib"] >= 120
    assert result["peak_sum_mib"] >= 240
    assert result["peak_sum_mib"] >= result["peak_single_mib"] + 120
    # Nothing is shared between the two buffers: PSS counts both too (a little under RSS, since
    # the interpreter's shared libraries are split between the processes).
    assert result["peak_sum_pss_mib"] >= 240


def test_command_is_required() -> None:
    with pytest.raises(SystemExit):
        peak_rss.main([])
