"""A receiver's key read from Secret Manager (``{secret: NAME}``): the latest enabled version through the real client,
over gRPC to the Secret Manager stand-in; a secret out of reach is a delivery failure that names it, never a value."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest

pytest.importorskip("google.cloud.secretmanager_v1", reason="the secret-manager extra")

from findly_infra.bootstrap.notify import UnreadySetting, receiver_notifier, setting_value
from findly_infra.config.loader import load_platform_text
from findly_infra.domain.notifications import SecretSource
from findly_infra.domain.platform import Platform
from findly_infra.examples import example_platform_text
from findly_infra.testing.secret_manager import SecretManagerStandIn

NOTIFY = """
notifications:
  receivers:
    pagerduty: {type: pagerduty, routing_key: {secret: pagerduty-routing-key}}
"""


@pytest.fixture
def platform() -> Platform:
    return load_platform_text(example_platform_text() + NOTIFY)


@pytest.fixture
def sm() -> Iterator[SecretManagerStandIn]:
    with SecretManagerStandIn() as stand_in:
        yield stand_in


def test_a_key_is_read_from_the_latest_version_and_never_shown(platform: Platform, sm: SecretManagerStandIn) -> None:
    sm.add_secret("findly-now", "pagerduty-routing-key", b"old-key", b"0123456789abcdef0123456789abcdef\n")
    environ = {"FINDLY_SECRET_MANAGER_ENDPOINT": sm.address, "FINDLY_GCP_PROJECT": "findly-now"}
    source = SecretSource("secret", "pagerduty-routing-key")
    assert setting_value(source, platform, environ) == "0123456789abcdef0123456789abcdef"
    with pytest.raises(UnreadySetting) as missing:
        setting_value(SecretSource("secret", "nothing-here"), platform, environ)
    assert str(missing.value) == "Secret Manager secret nothing-here did not exist or had no enabled version"
    with pytest.raises(UnreadySetting) as unset:
        setting_value(SecretSource("env", "PD_KEY"), platform, {})
    assert str(unset.value) == "$PD_KEY was not set"


def test_a_receiver_whose_key_is_out_of_reach_fails_its_deliveries_with_why(platform: Platform) -> None:
    from findly_infra.domain.notifications import Notification, NotificationKind, NotificationSeverity, PageAction

    (receiver,) = platform.notifications.receivers
    notifier = receiver_notifier(receiver, platform, timeout=1.0, environ={}, secrets=_Unreachable)
    note = Notification(
        id="n",
        kind=NotificationKind.ROLLED_BACK,
        severity=NotificationSeverity.CRITICAL,
        service="fn-posts",
        environment="production",
        version="1.0.0",
        at=datetime(2026, 1, 5, 9, 0),
        summary="s",
        action=PageAction.TRIGGER,
    )
    delivery = notifier.send(note)
    assert not delivery.delivered
    assert not delivery.permanent  # tried again: the secret may be granted meanwhile
    assert "Secret Manager secret pagerduty-routing-key could not be read" in delivery.detail


class _Unreachable:
    def payload(self, secret: str) -> bytes:
        raise ConnectionError(f"Secret Manager is not answering for {secret}")
