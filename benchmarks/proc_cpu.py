"""CPU time of benchmarked server processes, from Linux /proc: a figure that other load
on the machine disturbs far less than a rate."""

from __future__ import annotations

import os
from pathlib import Path


def cpu_seconds(pid: int) -> tuple[float, float]:
    """User and system CPU time of a process, (0, 0) where unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        tick = os.sysconf("SC_CLK_TCK")
        return int(fields[11]) / tick, int(fields[12]) / tick
    except (OSError, ValueError, IndexError):
        return 0.0, 0.0


def tree_cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process and its live descendants (a server
    with worker processes)."""
    total = sum(cpu_seconds(pid))
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        total += sum(tree_cpu_seconds(int(child)) for child in children)
    return total
