"""What the alert rules and Alertmanager's configuration agree on (``render/rules.py`` labels the rules with them,
``render/alertmanager.py`` routes and inhibits by them): the burn alerts' name, the labels of a corrected alert and its
original, and the timings within the seed's alert latency."""

from __future__ import annotations

from findly_infra.domain.notation import Duration

__all__ = ["BURN_ALERT", "CORRECTED_BY", "CORRECTS", "timings"]

BURN_ALERT = "SLOErrorBudgetBurn"
"""The SLO burn alerts' name (``render/rules.py``)."""
CORRECTED_BY = "corrected_by"
"""The label of a file's alert that has a corrected form (``render/rules.py``), naming that form: it is sent to the
warnings' receiver, not to the one its ``notification:`` names — the corrected form pages in its place."""
CORRECTS = "corrects"
"""The label of a corrected form, naming the file's alert it corrects: an SLO page of the same service inhibits it."""

_EVALUATION = Duration.of(seconds=15)
_GROUP_WAIT = Duration.of(seconds=10)


def timings(alert_latency: Duration) -> tuple[Duration, Duration]:
    """``(evaluation interval, group wait)`` of the alert rules: 15 s and 10 s, within the seed's "< 30 seconds for
    alert generation" (``performance_targets.alert_latency``); scaled down to a half and a third of a shorter
    target, whole seconds, one at least."""

    def seconds(duration: Duration) -> Duration:
        return Duration(max(1000, duration.milliseconds // 1000 * 1000))

    return (
        seconds(min(_EVALUATION, Duration(alert_latency.milliseconds // 2))),
        seconds(min(_GROUP_WAIT, Duration(alert_latency.milliseconds // 3))),
    )
