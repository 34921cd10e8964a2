"""What a benchmark records about the CPU it ran on; shared by `http/bench.py` and
`python/bench_python.py`, which import it from this directory.

A cloud VM may name every AMD EPYC alike ("AMD EPYC"), so the name alone cannot tell a Zen 2
(family 23, AVX2 only, slow gathers) from a Zen 5 (family 26, AVX-512): the family and model
numbers can, and the vector extensions say which kernel path the core picks. Figures from two
such machines must not be compared, so every result file carries these.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any


def cpu_info(cpuinfo: Path = Path("/proc/cpuinfo")) -> dict[str, Any]:
    """The first CPU's name, family, model and vector extensions (only what can be read)."""
    info: dict[str, Any] = {"logical_cpus": os.cpu_count(), "machine": platform.machine()}
    try:
        text = cpuinfo.read_text()
    except OSError:
        return info
    first: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            first.setdefault(key.strip(), value.strip())
    if "model name" in first:
        info["model"] = first["model name"]
    for key, name in (("cpu family", "family"), ("model", "model_number")):
        if first.get(key, "").isdigit():
            info[name] = int(first[key])
    if "flags" in first:
        flags = set(first["flags"].split())
        info["avx2"] = "avx2" in flags
        info["avx512f"] = "avx512f" in flags
    return info


def cpu_line(info: dict[str, Any]) -> str:
    """One line for a report: `AMD EPYC, family 26 model 2, AVX-512`."""
    family = (
        f"family {info['family']} model {info['model_number']}"
        if "family" in info and "model_number" in info
        else None
    )
    vector = "AVX-512" if info.get("avx512f") else "AVX2" if info.get("avx2") else None
    extra = ", ".join(x for x in (family, vector) if x)
    name = info.get("model", "unknown CPU")
    return f"{name}, {extra}" if extra else name
