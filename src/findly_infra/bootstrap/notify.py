"""The receivers of notifications, built from the platform file's ``notifications:`` section: each receiver's URL, key
and signing secret read from the environment or Secret Manager when it is first used — never printed, logged or put
in ``--json`` — and the notify use cases (``application.notify``) on the state's outbox.

A receiver whose settings cannot be read (a variable not set, a secret out of reach) is built as one that fails each
delivery with the reason, to be tried again later: a missing URL never fails a release, it is a delivery failure
recorded (``notify status`` shows it).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from findly_infra.application.notify import Notifications
from findly_infra.application.ports import Clock, Delivery, EventStore, Notifier, Outbox
from findly_infra.application.service import PipelineService
from findly_infra.bootstrap.extras import EXTRAS, missing_modules
from findly_infra.domain.notifications import Notification, Receiver, ReceiverType, SecretSource
from findly_infra.domain.platform import Platform

__all__ = ["UnreadySetting", "notifications_for", "receiver_notifier", "setting_value"]


class UnreadySetting(Exception):  # noqa: N818 - not an error of ours: a setting that cannot be read yet
    """Raised when a receiver's setting cannot be read here; the message names the place, never a value."""


@attrs.frozen
class _Unready:
    """A receiver whose settings could not be read: every delivery fails with why, and is tried again later."""

    why: str

    def send(self, notification: Notification, *, timeout: float | None = None) -> Delivery:  # noqa: ARG002 - the port's signature
        return Delivery(False, self.why)


def setting_value(
    source: SecretSource, platform: Platform, environ: Mapping[str, str], secrets: Callable[[], Any] | None = None
) -> str:
    """The value *source* names: the environment variable's, or the Secret Manager secret's latest version (through
    *secrets*, which builds the adapter). Raises :class:`UnreadySetting` naming what is missing."""
    if source.kind == "env":
        value = environ.get(source.name, "")
        if not value.strip():
            raise UnreadySetting(f"${source.name} was not set")
        return value.strip()
    try:
        store = secrets() if secrets is not None else _secret_store(platform, environ)
        payload = store.payload(source.name)
    except Exception as exc:  # noqa: BLE001 - any failure to read it is a delivery failure, said without the value
        raise UnreadySetting(f"{source.describe()} could not be read: {type(exc).__name__}: {exc}") from None
    if payload is None:
        raise UnreadySetting(f"{source.describe()} did not exist or had no enabled version")
    return str(payload.decode()).strip()


def _secret_store(platform: Platform, environ: Mapping[str, str]) -> Any:
    from findly_infra.bootstrap.google import secret_store

    return secret_store(platform, environ=environ)


def receiver_notifier(
    receiver: Receiver,
    platform: Platform,
    *,
    timeout: float,
    environ: Mapping[str, str] | None = None,
    secrets: Callable[[], Any] | None = None,
) -> Notifier:
    """The :class:`Notifier` of *receiver* (``adapters.notifiers``), its settings read now."""
    env = os.environ if environ is None else environ
    try:
        values = {field: setting_value(source, platform, env, secrets) for field, source in receiver.settings()}
    except UnreadySetting as exc:
        return _Unready(str(exc))
    if missing_modules(EXTRAS["notifications"]):  # the adapters send with httpx, which the extra brings
        return _Unready("sending notifications needs an extra: pip install 'findly-infra[notifications]'")
    from findly_infra.adapters.notifiers import PagerDutyNotifier, SlackNotifier, WebhookNotifier

    notifier: Notifier
    try:
        if receiver.type is ReceiverType.SLACK:
            notifier = SlackNotifier(values["url"], timeout=timeout)
        elif receiver.type is ReceiverType.PAGERDUTY:
            elsewhere = {"url": values["url"]} if "url" in values else {}  # else the Events API's own endpoint
            notifier = PagerDutyNotifier(values["routing_key"], timeout=timeout, **elsewhere)
        else:
            notifier = WebhookNotifier(values["url"], values["signing_secret"], timeout=timeout)
    except ValueError as exc:  # a setting of the wrong shape (a signing secret that is not whsec_…): never shown
        return _Unready(f"{receiver.name}: {exc}")
    return notifier


def notifications_for(
    platform: Platform,
    store: EventStore,
    pipelines: PipelineService,
    clock: Clock,
    *,
    rehearsal: bool,
    timeout: float = 5.0,
    notifier: Callable[[Receiver], Notifier] | None = None,
) -> Notifications | None:
    """The notify use cases on *store*'s outbox (``None``: the store keeps none — ``memory://``). *notifier* builds
    a receiver (default: :func:`receiver_notifier`, reading its settings from the environment or Secret Manager)."""
    if not isinstance(store, Outbox):
        return None
    receivers = {receiver.name: receiver for receiver in platform.notifications.receivers}
    build = notifier or (lambda receiver: receiver_notifier(receiver, platform, timeout=timeout))

    def view(service: str, environment: str) -> tuple[Any, Any]:
        pipeline = pipelines.pipeline(service)
        return pipelines.view(service, environment), pipeline.environments[environment]

    def stream_version(service: str) -> int:
        return pipelines.pipeline(service).version

    def named(name: str) -> Notifier:
        receiver = receivers.get(name)
        if receiver is None:
            return _Unready(f"{name} is no longer declared in notifications.receivers")
        return build(receiver)

    return Notifications(
        platform,
        store,
        store,
        clock,
        named,
        view,
        stream_version,
        rehearsal=rehearsal,
    )
