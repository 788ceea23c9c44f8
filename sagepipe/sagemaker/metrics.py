"""Training metrics scraped from a job's log as it grows, as SageMaker's MetricDefinitions do.

Each definition is `{"Name": ..., "Regex": ...}`; the number in the regex's first capture group
(the whole match if it has none) of the latest matching line is the metric's final value.
"""

from __future__ import annotations

import math
import re
import time
from pathlib import Path
from typing import Any

from sagepipe.errors import ValidationException

READ_CHUNK = 1 << 20


def compile_definitions(definitions: list[dict[str, str]]) -> list[tuple[str, re.Pattern[str]]]:
    """The definitions' regexes, compiled; ValidationException naming the one that is broken."""
    compiled = []
    for i, definition in enumerate(definitions):
        try:
            compiled.append((definition["Name"], re.compile(definition["Regex"])))
        except re.error as exc:
            raise ValidationException(f"AlgorithmSpecification.MetricDefinitions[{i}].Regex "
                                      f"{definition['Regex']!r} is not a valid regular expression: "
                                      f"{exc}.") from None
    return compiled


class MetricScraper:
    """Follows a log file from its current end and keeps the last value of every metric."""

    def __init__(self, definitions: list[dict[str, str]], log_path: Path) -> None:
        self.patterns = compile_definitions(definitions)
        self.path = log_path
        self.offset = log_path.stat().st_size if log_path.exists() else 0
        self.partial = b""
        self.latest: dict[str, dict[str, Any]] = {}

    @property
    def metric_data(self) -> list[dict[str, Any]]:
        """FinalMetricDataList: one `{MetricName, Value, Timestamp}` per metric seen."""
        return list(self.latest.values())

    def poll(self, final: bool = False) -> bool:
        """Scan the lines written since the last call; True if a metric changed.

        `final` also scans an unterminated last line (the process has exited).
        """
        if not self.patterns or not self.path.exists():
            return False
        changed = False
        with open(self.path, "rb") as log:
            log.seek(self.offset)
            while chunk := log.read(READ_CHUNK):
                self.offset += len(chunk)
                lines = (self.partial + chunk).split(b"\n")
                self.partial = lines.pop()
                changed |= self._scan(lines)
        if final and self.partial:
            changed |= self._scan([self.partial])
            self.partial = b""
        return changed

    def _scan(self, lines: list[bytes]) -> bool:
        changed = False
        for raw in lines:
            line = raw.decode(errors="replace")
            for name, pattern in self.patterns:
                found = pattern.search(line)
                if found is None:
                    continue
                try:
                    value = float(found.group(1) if pattern.groups else found.group(0))
                except ValueError:
                    continue
                if math.isfinite(value):
                    self.latest[name] = {"MetricName": name, "Value": value,
                                         "Timestamp": time.time()}
                    changed = True
        return changed
