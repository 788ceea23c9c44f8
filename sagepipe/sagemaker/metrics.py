"""Training metrics scraped from a job's log as it grows, as SageMaker's MetricDefinitions do.

Each definition is `{"Name": ..., "Regex": ...}`; the number in the regex's first capture group
(the whole match if it has none) of the latest matching line is the metric's final value.
"""

from __future__ import annotations

import math
import re
import time
from typing import Any

from sagepipe.errors import ValidationException
from sagepipe.logs.streams import LogStream


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
    """Follows a job's log stream from its current end and keeps the last value of every
    metric."""

    def __init__(self, definitions: list[dict[str, str]], log: LogStream) -> None:
        self.patterns = compile_definitions(definitions)
        self.log = log
        self.offset = log.size()
        self.latest: dict[str, dict[str, Any]] = {}

    @property
    def metric_data(self) -> list[dict[str, Any]]:
        """FinalMetricDataList: one `{MetricName, Value, Timestamp}` per metric seen."""
        return list(self.latest.values())

    def poll(self, final: bool = False) -> bool:
        """Scan the lines written since the last call; True if a metric changed.

        `final`: the process has exited; its last lines are waited for.
        """
        if not self.patterns:
            return False
        if final:
            self.log.settle()
        lines = []
        for event in self.log.events(self.offset):
            lines.append(event.message)
            self.offset = event.end
        return self._scan(lines)

    def _scan(self, lines: list[str]) -> bool:
        changed = False
        for line in lines:
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
