"""CPU figures from /proc (Linux): a process's CPU time and the machine's busy time."""
from __future__ import annotations

import os
from typing import Optional

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_cpu_seconds(pid: Optional[int]) -> float:
    """utime + stime of process ``pid`` (all its threads), 0.0 if unknown or gone."""
    if not pid:
        return 0.0
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return 0.0
    # the command name (field 2) is parenthesised and may hold spaces: split after it
    fields = text[text.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / _TICK   # fields 14 and 15 of stat(5)


def busy_seconds() -> float:
    """CPU seconds every core has spent not idle since boot (/proc/stat's cpu line)."""
    try:
        with open("/proc/stat") as f:
            parts = f.readline().split()
    except OSError:
        return 0.0
    user, nice, system, idle, iowait, irq, softirq, steal = (int(x) for x in parts[1:9])
    return (user + nice + system + irq + softirq + steal) / _TICK
