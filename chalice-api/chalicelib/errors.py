"""HTTP errors Chalice has no class for. Chalice answers any ChaliceViewError with its
STATUS_CODE and `{"Code": <class name>, "Message": <message>}`, never a traceback."""

from __future__ import annotations

from chalice import ChaliceViewError


class PayloadTooLargeError(ChaliceViewError):
    STATUS_CODE = 413


class BadGatewayError(ChaliceViewError):
    """The endpoint answered, but with a model error or an answer we cannot use."""

    STATUS_CODE = 502


class ServiceUnavailableError(ChaliceViewError):
    """The endpoint cannot take the request now: missing, not InService, unreachable."""

    STATUS_CODE = 503


class GatewayTimeoutError(ChaliceViewError):
    STATUS_CODE = 504
