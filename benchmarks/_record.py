"""What every benchmark shares: describing the machine, and appending a section to RESULTS.md."""

from __future__ import annotations

import os
import platform
from pathlib import Path

__all__ = ["RESULTS", "machine", "append_section"]

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
_HEADER = "# Benchmark results\n\nSections are appended by each benchmark run.\n"


def machine(load_when: str = "at the end of the run") -> str:
    """OS, architecture, vCPUs, CPU model, RAM, Python and the load average (a shared machine is noisy)."""
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        ram = f", {kb / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    one, five, fifteen = os.getloadavg()
    load = f", load average {one:.1f} / {five:.1f} / {fifteen:.1f} (1/5/15 min) {load_when}"
    return (f"{platform.system()} {platform.machine()}, {os.cpu_count()} vCPU ({cpu}){ram}, "
            f"Python {platform.python_version()}{load}")


def append_section(text: str) -> Path:
    """Append one section (Markdown) to RESULTS.md, creating the file with its header if needed."""
    prev = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else _HEADER
    RESULTS.write_text(prev.rstrip("\n") + "\n\n" + text.strip("\n") + "\n", encoding="utf-8")
    print(f"recorded in {RESULTS}")
    return RESULTS
