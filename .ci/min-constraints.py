#!/usr/bin/env python3
"""Print pip constraints that pin every core dependency of pyproject.toml to its declared minimum.

Each ``name[extras]>=X,...`` of ``[project] dependencies`` becomes ``name==X`` (constraints files
take no extras). A core dependency without a ``>=`` lower bound is an error: every declared
minimum is meant to be installed and tested (``make test-min``).

    python .ci/min-constraints.py [pyproject.toml] > constraints.txt
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

REQ = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*)$")


def minimum_pins(pyproject: Path) -> list[str]:
    """``name==minimum`` for each core dependency, in the order pyproject lists them."""
    deps = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    pins = []
    for dep in deps:
        match = REQ.match(dep.split(";")[0])
        if match is None:
            raise SystemExit(f"cannot parse dependency {dep!r}")
        name, _, spec = match.groups()
        lower = [s.strip()[2:].strip() for s in spec.split(",") if s.strip().startswith(">=")]
        if len(lower) != 1:
            raise SystemExit(f"dependency {dep!r} has no single '>=' lower bound")
        pins.append(f"{name}=={lower[0]}")
    return pins


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parents[1] / "pyproject.toml"
    print("\n".join(minimum_pins(path)))


if __name__ == "__main__":
    main()
