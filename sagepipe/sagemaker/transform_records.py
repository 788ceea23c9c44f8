"""What a batch transform does to the bytes of one input object, as SageMaker defines it.

- **Split** (`SplitType`): `Line` makes every non-empty line a record; `None` makes the whole
  object one record.
- **Batch** (`BatchStrategy`): `SingleRecord` sends one record per request; `MultiRecord` as
  many whole records as fit in `MaxPayloadInMB` (0: no limit). A record larger than the limit
  fails its object ("Exceeding the MaxPayloadInMB limit causes an error", docs batch-transform).
  Line records travel with their newline, so a mini-batch is the lines as they were.
- **DataProcessing**: `InputFilter` selects what the model sees of each record, `JoinSource:
  Input` puts the model's answer beside the whole input record (CSV: columns appended; JSON:
  the `SageMakerOutput` member, or `{"SageMakerInput", "SageMakerOutput"}` for a record that is
  not an object) and `OutputFilter` selects what is kept (docs batch-transform-data-processing).
  To pair answers with records the answer to a mini-batch must have one line per record.
- **Assemble** (`AssembleWith`): `None` concatenates the answers as they are, `Line` ends each
  with a newline (not doubling one the model wrote).

Without DataProcessing the model's bytes pass through untouched.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from sagepipe.sagemaker.transform_jsonpath import JsonPath, PathError

CSV = "text/csv"
JSON_TYPES = ("application/json", "application/jsonlines")
MB = 1024 * 1024


class RecordError(ValueError):
    """An input object cannot be transformed as configured; the message says which record."""


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def split_records(data: bytes, split_type: str) -> list[bytes]:
    """The records of one object, each Line record with its newline."""
    if split_type != "Line":
        return [data]
    return [line + b"\n" for line in data.split(b"\n") if line.strip()]


@dataclass(frozen=True)
class Batch:
    """One /invocations request: its body and which records it carries (`first`, 0-based, and
    `count`), so that its answer can be joined with them."""

    body: bytes
    first: int
    count: int


def batches(records: list[bytes], *, multi_record: bool, max_payload_mb: int) -> Iterator[Batch]:
    """Mini-batches of whole records, in order."""
    limit = max_payload_mb * MB or None
    first, size = 0, 0
    for index, record in enumerate(records):
        if limit is not None and len(record) > limit:
            raise RecordError(f"record {index + 1} is {len(record)} bytes, more than "
                              f"MaxPayloadInMB ({max_payload_mb} MB); raise MaxPayloadInMB or "
                              "split the input (SplitType Line)")
        if index > first and (not multi_record or (limit is not None
                                                   and size + len(record) > limit)):
            yield Batch(b"".join(records[first:index]), first, index - first)
            first, size = index, 0
        size += len(record)
    if first < len(records):
        yield Batch(b"".join(records[first:]), first, len(records) - first)


def assemble(answer: bytes, by_line: bool) -> bytes:
    """One answer as it goes into the output object (AssembleWith Line or None)."""
    return answer + b"\n" if by_line and not answer.endswith(b"\n") else answer


@dataclass(frozen=True)
class DataProcessing:
    """A request's DataProcessing, compiled; `from_request` gives None when it changes nothing."""

    input_filter: JsonPath
    output_filter: JsonPath
    join: bool
    csv_input: bool
    csv_output: bool
    lines: bool  # SplitType Line: a record is a line, and so is its answer

    @classmethod
    def from_request(cls, config: dict[str, Any] | None, split_type: str,
                     content_type: str | None, accept: str | None) -> DataProcessing | None:
        """Raises ValueError (or PathError) with what is wrong, for a ValidationException."""
        config = config or {}
        input_filter = _compile(config, "InputFilter")
        output_filter = _compile(config, "OutputFilter")
        join = config.get("JoinSource", "None") == "Input"
        if input_filter.is_root and output_filter.is_root and not join:
            return None
        kinds = {media_type(content_type), media_type(accept)}
        if not kinds <= {CSV, *JSON_TYPES}:
            raise ValueError(
                "DataProcessing filters and joins records of text/csv, application/json or "
                "application/jsonlines: set TransformInput.ContentType and "
                "TransformOutput.Accept to one of them (they are "
                f"{content_type or '(none)'} and {accept or '(none)'}).")
        csv_input, csv_output = media_type(content_type) == CSV, media_type(accept) == CSV
        if join and csv_input != csv_output:
            raise ValueError("JoinSource Input joins records of one format: set ContentType and "
                             "Accept both to text/csv, or both to JSON.")
        if csv_input and split_type != "Line":
            raise ValueError("DataProcessing on text/csv works on lines: set "
                             "TransformInput.SplitType to Line.")
        return cls(input_filter, output_filter, join, csv_input, csv_output,
                   split_type == "Line")

    def model_inputs(self, records: list[bytes]) -> list[bytes]:
        """What the model is sent of each record (InputFilter)."""
        if self.input_filter.is_root:
            return records
        return [self._numbered(number, self._model_input, record)
                for number, record in enumerate(records, 1)]

    def _model_input(self, record: bytes) -> bytes:
        newline = b"\n" if record.endswith(b"\n") else b""
        selected = _select(self.input_filter, self._read(record, self.csv_input))
        return self._write(selected, self.csv_input) + newline

    def outputs(self, first: int, records: list[bytes], answer: bytes) -> bytes:
        """The output records of one mini-batch (its records numbered from `first` in their
        object), each ending with a newline."""
        answers = [line for line in answer.split(b"\n") if line.strip()] if self.lines \
            else [answer]
        if len(answers) != len(records):
            raise RecordError(f"records {first}-{first + len(records) - 1}: the model answered "
                              f"{len(answers)} line(s) for {len(records)} record(s); JoinSource "
                              "and OutputFilter pair one answer line with each input record")
        return b"".join(self._numbered(first + i, self._output, record, result) + b"\n"
                        for i, (record, result) in enumerate(zip(records, answers, strict=True)))

    @staticmethod
    def _numbered(number: int, work: Any, *args: bytes) -> bytes:
        """`work(*args)` for record `number`, its errors saying which record."""
        try:
            return work(*args)
        except (RecordError, PathError, UnicodeDecodeError) as error:
            raise RecordError(f"record {number}: {error}") from None

    def _output(self, record: bytes, answer: bytes) -> bytes:
        result = self._read(answer, self.csv_output, strict=False)
        if not self.join:
            return self._write(_select(self.output_filter, result), self.csv_output)
        source = self._read(record, self.csv_input)
        if self.csv_input:
            joined: Any = [*source, *(result if isinstance(result, list) else [result])]
        elif isinstance(source, dict):
            joined = {**source, "SageMakerOutput": result}
        else:
            joined = {"SageMakerInput": source, "SageMakerOutput": result}
        return self._write(_select(self.output_filter, joined), self.csv_input)

    @staticmethod
    def _read(data: bytes, as_csv: bool, strict: bool = True) -> Any:
        text = data.decode("utf-8-sig", errors="strict" if strict else "replace").strip()
        if as_csv:
            return next(csv.reader([text]), [])
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            if not strict:
                return text  # an answer that is not JSON is joined as a string
            raise RecordError(f"not a JSON record: {text[:80]!r}") from None

    @staticmethod
    def _write(value: Any, as_csv: bool) -> bytes:
        if not as_csv:
            return orjson.dumps(value)
        if isinstance(value, dict):
            raise RecordError("a CSV record is an array of columns: use index paths such as "
                              "$[0] or $[1:] in its filters")
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="").writerow(value if isinstance(value, list)
                                                       else [value])
        return buffer.getvalue().encode()


def _compile(config: dict[str, Any], field: str) -> JsonPath:
    try:
        return JsonPath(config.get(field, "$"))
    except PathError as error:
        raise ValueError(f"DataProcessing.{field}: {error}") from None


def _select(path: JsonPath, value: Any) -> Any:
    return value if path.is_root else path.select(value)
