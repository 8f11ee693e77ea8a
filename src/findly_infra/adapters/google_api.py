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

import re
from collections.abc import Callable
from typing import Any

from findly_infra.application.ports import BadInputError, DependencyUnavailableError
from findly_infra.application.redaction import redact_text

__all__ = ["AlreadyExistsError", "ConflictError", "NotFoundError", "call_google", "retry_on_conflict"]


class NotFoundError(BadInputError):
    """The resource does not exist (a configuration problem — or, for an audit, a finding)."""


class AlreadyExistsError(BadInputError):
    """Raised when a create finds the name in use (``ALREADY_EXISTS``, HTTP 409) — for a create retried after its
    answer was lost, the resource the first attempt made: the caller decides what it means."""


class ConflictError(BadInputError):
    """Raised when the API refused a write made on stale state (``ABORTED``: e.g. an IAM policy's etag that someone
    else's change replaced). Done again on fresh state it may pass (:func:`retry_on_conflict`)."""


class _Retry(Exception):  # noqa: N818 - a signal to stamina, never seen outside
    pass


def retried(
    call: Callable[[], Any],
    transient: tuple[type[Exception], ...],
    *,
    attempts: int,
    failed: str,
    said: Callable[[Exception], str],
) -> Any:
    """*call*, retried with backoff (0.5 s doubling to 30 s, *attempts* in all) while it raises one of *transient*;
    then :class:`DependencyUnavailableError` saying what *failed* and the last error (as *said* words it). Any other
    error goes to the caller as it is."""
    import stamina

    def once() -> Any:
        try:
            return call()
        except transient as exc:
            raise _Retry(f"{type(exc).__name__}: {said(exc)}") from None

    caller = stamina.RetryingCaller(attempts=attempts, timeout=None, wait_initial=0.5, wait_max=30.0).on(_Retry)
    try:
        return caller(once)
    except _Retry as exc:
        raise DependencyUnavailableError(f"{failed}: {exc} (after {attempts} attempts)") from None


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
    from google.api_core import exceptions

    transient: tuple[type[Exception], ...] = (exceptions.ServiceUnavailable, exceptions.DeadlineExceeded)
    if busy_is_transient:
        transient += (exceptions.FailedPrecondition,)

    try:
        return retried(call, transient, attempts=attempts, failed=f"{api} did not {what} ({resource})", said=_said)
    except exceptions.NotFound as exc:
        raise NotFoundError(f"{api} has no {resource} ({_said(exc)})") from None
    except exceptions.PermissionDenied as exc:
        quota = _quota(_said(exc))
        if quota is not None:
            raise BadInputError(f"{api} refused to {what} on {resource}: {_said(exc)} ({quota})") from None
        raise BadInputError(
            f"{api} refused to {what} on {resource}: {_said(exc)} (a configuration problem: grant the role that "
            "holds this permission)"
        ) from None
    except exceptions.AlreadyExists as exc:
        raise AlreadyExistsError(f"{api} refused to {what} on {resource}: {_said(exc)}") from None
    except exceptions.Aborted as exc:
        raise ConflictError(f"{api} refused to {what} on {resource}: {_said(exc)}") from None
    except exceptions.GoogleAPICallError as exc:
        raise BadInputError(f"{api} refused to {what} on {resource}: {_said(exc)}") from None


_QUOTA_RESOURCE = re.compile(r'resource \\?"([A-Za-z0-9_]+)\\?"')


def _quota(message: str) -> str | None:
    """What to do about a ``PERMISSION_DENIED`` that is a quota, not a role: GKE answers a create short of quota with
    403 "Insufficient regional quota to satisfy request: resource \"CPUS\": request requires '12.0' and is short
    '4.0'…" (googlecodelabs/feedback#950, GoogleCloudPlatform/cloud-ops-sandbox#44, kubeflow/examples#597); ``None``
    for any other refusal. Quotas are raised on the Quotas page (https://cloud.google.com/docs/quotas/help/
    request_increase)."""
    if "quota" not in message.lower():
        return None
    found = _QUOTA_RESOURCE.search(message)
    which = f"the {found.group(1)} quota" if found else "a quota"
    return (
        f"a quota, not a permission: {which} of the project in that region is too small for this request — ask for "
        "more at https://console.cloud.google.com/iam-admin/quotas (https://cloud.google.com/docs/quotas/help/"
        "request_increase), or ask for less, then run this again"
    )


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
