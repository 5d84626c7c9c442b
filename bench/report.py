"""Writing one benchmark's section of BENCHMARKS.md, leaving the other sections as they are."""

from __future__ import annotations

import re
from pathlib import Path

from slt.files import atomic_write


def write_section(report: Path, section: str, text: str) -> None:
    """Replace the section headed `section` (a `## ` line) in `report` with `text`, or append it; atomic."""
    content = report.read_text() if report.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(section)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(content):
        content = pattern.sub(lambda _: text + "\n", content)
    else:
        content = content.rstrip() + "\n\n" + text
    atomic_write(report, lambda tmp: Path(tmp).write_text(content))
