"""One call to a Google Cloud API (GKE, Secret Manager) through its official client, and what its errors mean for
the person: shared by the two adapters so that they retry and name failures alike.

The clients' own retries are off at every call (``retry=None``): ours know what each status means. ``UNAVAILABLE``
and ``DEADLINE_EXCEEDED`` — and, where an API runs one operation at a time, ``FAILED_PRECONDITION`` — are retried
with backoff, then :class:`DependencyUnavailableError` (exit 5); ``NOT_FOUND`` is :class:`NotFoundError`;
``PERMISSION_DENIED`` and any other refusal are :class:`BadInputError` (exit 2) carrying the server's message, which
names the permission; ``ABORTED`` (a concurrent change: a stale etag) is :class:`ConflictError`, one of them, which a
read-modify-write retries whole (:func:`retry_on_conflict`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from findly_infra.application.ports import BadInputError, DependencyUnavailableError
from findly_infra.application.redaction import redact_text

__all__ = ["ConflictError", "NotFoundError", "call_google", "retry_on_conflict"]


class NotFoundError(BadInputError):
    """The resource does not exist (a configuration problem — or, for an audit, a finding)."""


class ConflictError(BadInputError):
    """Raised when the API refused a write made on stale state (``ABORTED``: e.g. an IAM policy's etag that someone
    else's change replaced). Done again on fresh state it may pass (:func:`retry_on_conflict`)."""


class _Retry(Exception):  # noqa: N818 - a signal to stamina, never seen outside
    pass


def call_google(
    api: str,
    what: str,
    resource: str,
    call: Callable[[], Any],
    *,
    attempts: int,
    busy_is_transient: bool = False,
) -> Any:
    """*call*, retried while the API is unavailable (or busy, with *busy_is_transient*); its errors as ours, each
    naming *api*, *what* was asked and the *resource*."""
    import stamina
    from google.api_core import exceptions

    transient: tuple[type[Exception], ...] = (exceptions.ServiceUnavailable, exceptions.DeadlineExceeded)
    if busy_is_transient:
        transient += (exceptions.FailedPrecondition,)

    def once() -> Any:
        try:
            return call()
        except transient as exc:
            raise _Retry(f"{type(exc).__name__}: {_said(exc)}") from None

    caller = stamina.RetryingCaller(attempts=attempts, timeout=None, wait_initial=0.5, wait_max=30.0).on(_Retry)
    try:
        return caller(once)
    except _Retry as exc:
        raise DependencyUnavailableError(
            f"{api} did not {what} ({resource}): {exc} (after {attempts} attempts)"
        ) from None
    except exceptions.NotFound as exc:
        raise NotFoundError(f"{api} has no {resource} ({_said(exc)})") from None
    except exceptions.PermissionDenied as exc:
        raise BadInputError(
            f"{api} refused to {what} on {resource}: {_said(exc)} (a configuration problem: grant the role that "
            "holds this permission)"
        ) from None
    except exceptions.Aborted as exc:
        raise ConflictError(f"{api} refused to {what} on {resource}: {_said(exc)}") from None
    except exceptions.GoogleAPICallError as exc:
        raise BadInputError(f"{api} refused to {what} on {resource}: {_said(exc)}") from None


def _said(exc: Exception) -> str:
    """What the API answered, fit to be shown: a credential it echoes (``Bearer …``) replaced by ``***``."""
    return redact_text(str(getattr(exc, "message", exc))[:1000])


def retry_on_conflict(api: str, what: str, resource: str, attempt: Callable[[], Any], *, attempts: int) -> Any:
    """*attempt* — a whole read-modify-write — done again, with backoff, each time it ends in :class:`ConflictError`
    (as IAM asks: "retry the whole read-modify-write with exponential backoff"); after *attempts* of them,
    :class:`DependencyUnavailableError` (exit 5) saying the resource kept changing."""
    import stamina

    # The decorator, not a RetryingCaller: its retries are named after this module's function (the retry hook names
    # the dependency from it), where a RetryingCaller's are all "<context block>".
    @stamina.retry(on=ConflictError, attempts=attempts, timeout=None, wait_initial=0.5, wait_max=30.0)
    def read_modify_write() -> Any:
        return attempt()

    try:
        return read_modify_write()
    except ConflictError as exc:
        raise DependencyUnavailableError(
            f"{api} could not {what} ({resource}): it kept changing under us — {exc} (after {attempts} attempts)"
        ) from None
