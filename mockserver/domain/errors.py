"""The one error hierarchy of the fake.

Domain code raises these; the server maps each class to an HTTP status and body in exactly one
place (``mockserver.server.errors``). Every error carries a human ``detail``.
"""

from __future__ import annotations

from dataclasses import dataclass


class MockError(Exception):
    """Base class of every error reported to a client."""

    title = "Error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule of a request: which field, which rule, and what was wrong."""

    field: str
    rule: str
    detail: str


# How many violations a 400's detail spells out; the rest are counted.
DETAILED_VIOLATIONS = 10


class InvalidRequest(MockError):
    """The request body is malformed or breaks a documented rule (first violation first).

    The detail names every broken field (each violation's detail, joined by ``; ``), since the
    documented error body has no other place for them."""

    title = "Invalid Request"

    def __init__(self, violations: list[Violation]) -> None:
        if not violations:
            raise ValueError("InvalidRequest needs at least one violation")
        shown = [v.detail for v in violations[:DETAILED_VIOLATIONS]]
        if len(violations) > DETAILED_VIOLATIONS:
            rest = violations[DETAILED_VIOLATIONS:]
            names = ", ".join(dict.fromkeys(v.field for v in rest))
            shown.append(f"and {len(rest)} more ({names})")
        super().__init__("; ".join(shown))
        self.violations = violations

    @classmethod
    def single(cls, field: str, rule: str, detail: str) -> InvalidRequest:
        return cls([Violation(field, rule, detail)])

    @property
    def field(self) -> str:
        return self.violations[0].field

    @property
    def rule(self) -> str:
        return self.violations[0].rule


class Unauthorized(MockError):
    """Missing, malformed or unknown API key."""

    title = "Unauthorized"


class TaskNotFound(MockError):
    """Unknown task id, or a task that belongs to another key (indistinguishable on purpose)."""

    title = "Task Not Found"

    def __init__(self, task_id: str) -> None:
        super().__init__(f"Task {task_id} does not exist")
        self.task_id = task_id


class WebhookNotFound(MockError):
    """No webhook endpoint, or no webhook event, with that id (control plane)."""

    title = "Not Found"


class PayloadTooLarge(MockError):
    """The request body is larger than the configured cap."""

    title = "Payload Too Large"


class ResultNotFound(MockError):
    """No downloadable result: unknown task, or one that has not succeeded."""

    title = "Not Found"


class ScenarioRejection(MockError):
    """A ``reject:<status>`` scenario: the create itself fails with that HTTP status."""

    title = "Rejected"

    def __init__(self, status: int) -> None:
        super().__init__(f"the create was rejected with HTTP {status} (scenario reject:{status})")
        self.status = status


class TransientPollError(MockError):
    """A ``poll-error:<status>`` scenario: polls fail until the task has finished."""

    title = "Transient Error"

    def __init__(self, status: int) -> None:
        super().__init__(f"the poll failed with HTTP {status} (scenario poll-error:{status})")
        self.status = status


class AdminRequired(MockError):
    """The control plane needs the admin token (or a loopback client)."""

    title = "Forbidden"


class ForeignRequest(MockError):
    """A control-plane request a web page could have made: a Host that is not the fake's, or
    a cross-origin one. Refused whatever the admin token says."""

    title = "Forbidden"


class UnsupportedMediaType(MockError):
    """A state-changing control-plane call without a JSON content type."""

    title = "Unsupported Media Type"


class RangeNotSatisfiable(MockError):
    """A download asked only for bytes past the end of the file."""

    title = "Range Not Satisfiable"

    def __init__(self, size: int) -> None:
        super().__init__(f"Range: no requested byte exists; the file has {size} bytes")
        self.size = size


class ResultExpired(MockError):
    """A result link past its lifetime; ``expired_at`` in the fake's clock."""

    title = "Link Expired"

    def __init__(self, expired_at: float) -> None:
        super().__init__("This result link has expired; fetch the task again for a fresh one")
        self.expired_at = expired_at


class RequestTimeout(MockError):
    """The client stopped sending its request body."""

    title = "Request Timeout"


class RenderQueueFull(MockError):
    """Too many videos wait to be rendered; ``retry_after`` seconds is a fair guess of when
    one more fits."""

    title = "Service Unavailable"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class StateUnavailable(MockError):
    """The shared state (Redis) cannot be reached or answered too late: a 503 with
    ``Retry-After``, never a 500, so a client retries; the next request tries it again."""

    title = "Service Unavailable"
    retry_after = 1

    def __init__(self, reason: str) -> None:
        super().__init__(f"the fake's shared state is unavailable ({reason}); retry shortly")
        self.reason = reason
