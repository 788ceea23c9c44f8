"""The ASL fields a step takes, by their Python (snake_case) names as in the old SDK."""

from enum import Enum


class Field(Enum):
    # Common fields
    Comment = "comment"
    InputPath = "input_path"
    OutputPath = "output_path"
    Parameters = "parameters"
    ResultSelector = "result_selector"
    ResultPath = "result_path"
    Next = "next"
    Retry = "retry"
    Catch = "catch"
    Branches = "branches"
    End = "end"
    Version = "version"
    # Pass
    Result = "result"
    # Fail
    Error = "error"
    Cause = "cause"
    # Wait
    Seconds = "seconds"
    Timestamp = "timestamp"
    SecondsPath = "seconds_path"
    TimestampPath = "timestamp_path"
    # Choice
    Choices = "choices"
    Default = "default"
    # Map
    Iterator = "iterator"
    ItemsPath = "items_path"
    MaxConcurrency = "max_concurrency"
    # Task
    Resource = "resource"
    TimeoutSeconds = "timeout_seconds"
    TimeoutSecondsPath = "timeout_seconds_path"
    HeartbeatSeconds = "heartbeat_seconds"
    HeartbeatSecondsPath = "heartbeat_seconds_path"
    # Retry and Catch
    ErrorEquals = "error_equals"
    IntervalSeconds = "interval_seconds"
    MaxAttempts = "max_attempts"
    BackoffRate = "backoff_rate"
    MaxDelaySeconds = "max_delay_seconds"
    JitterStrategy = "jitter_strategy"
    NextStep = "next_step"

    @property
    def asl_name(self) -> str:
        """The field's name in ASL: `input_path` -> `InputPath`."""
        return "".join(part.title() for part in self.value.split("_"))


# Path fields: a placeholder given for one stands for its path.
PATH_FIELDS = {Field.InputPath, Field.OutputPath, Field.ResultPath, Field.ItemsPath,
               Field.SecondsPath, Field.TimestampPath, Field.TimeoutSecondsPath,
               Field.HeartbeatSecondsPath}
# Fields with a `...Path` twin in ASL: a placeholder given for one is emitted as the twin.
PATH_TWINS = {Field.Seconds, Field.Timestamp, Field.TimeoutSeconds, Field.HeartbeatSeconds,
              Field.MaxConcurrency, Field.Error, Field.Cause}
# Payload templates: placeholders in them become `Key.$` entries.
PAYLOAD_FIELDS = {Field.Parameters, Field.ResultSelector}
# Fields whose explicit None is the JSON null that ASL gives a meaning (discard the input/result).
NULLABLE_FIELDS = {Field.InputPath, Field.OutputPath, Field.ResultPath}
