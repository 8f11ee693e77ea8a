"""The cattrs converter between the platform file's shapes and the domain's objects.

Structuring is strict: unknown keys are errors, text is text (a mapping is never silently
``str()``-ed), booleans are booleans (``"false"`` is not true), and lists are lists (a string is
never split into letters). Every notation is read by its value object's ``parse`` and written back
by its ``format``, so ``structure(unstructure(x)) == x`` for every config object.
"""

from __future__ import annotations

import enum
import math
import re
import typing
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.errors import IterableValidationError, IterableValidationNote
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from findly_infra.domain.checks import did_you_mean
from findly_infra.domain.environment import (
    ApproverGroup,
    DeploymentTrigger,
    Environment,
    ResourceProfile,
    Service,
    StrategyKind,
)
from findly_infra.domain.errors import InvariantError
from findly_infra.domain.gitops import GitOpsBinding, GitOpsSettings
from findly_infra.domain.identity import IdentityPolicy
from findly_infra.domain.infrastructure import (
    CustomMetricTarget,
    ExternalMetricTarget,
    GKECluster,
    HorizontalAutoscaler,
    ResourceMetricTarget,
    ScalingMetric,
    TaintEffect,
)
from findly_infra.domain.notation import (
    ByteSize,
    CpuQuantity,
    Duration,
    ErrorBudgetStatement,
    LatencyObjective,
    MachineType,
    NotationError,
    Percentage,
    RelativeThreshold,
    Threshold,
    describe_value,
)
from findly_infra.domain.notifications import NotificationSettings, Receiver, SecretSource
from findly_infra.domain.operations import (
    AlertGroup,
    AlertRule,
    BackupPolicy,
    ClusterBinding,
    DisasterRecovery,
    GlobalLoadBalancer,
    KubernetesSettings,
    address_name_problem,
    certificate_domain_problem,
)
from findly_infra.domain.platform import Platform
from findly_infra.domain.recovery import DnsFailover, DnsRecord, DrCluster, FailoverHealth, FailoverSettings
from findly_infra.domain.security import (
    IngressRule,
    IPBlock,
    LabelSelector,
    ManagedSecret,
    NetworkPolicy,
    SecretManagement,
    SecretType,
)
from findly_infra.domain.slo import SLODefinition, SLOObjective, parse_alerting_threshold, parse_objective
from findly_infra.domain.strategy import (
    BlueGreenStrategy,
    CanaryStep,
    CanaryStrategy,
    FailureHandling,
    MetricCriterion,
    RollbackTrigger,
    TrafficSplit,
    ValidationStep,
)

__all__ = ["MAX_ERRORS_PER_LIST", "ShapeError", "make_converter"]

MAX_ERRORS_PER_LIST = 50

T = TypeVar("T")


class ShapeError(TypeError):
    """Raised when a value in the file has the wrong shape (a list where a mapping belongs, ...)."""


def _kind_of(value: object) -> str:  # noqa: PLR0911 - one short answer per kind
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, (int, float)):
        return f"a number ({value})"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"text ({shown!r})"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _expect_mapping(value: object, what: str = "a mapping of keys to values") -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ShapeError(f"expected {what}, got {_kind_of(value)}")
    return value


def _expect_list(value: object, what: str = "a list") -> list[Any]:
    if not isinstance(value, list):
        raise ShapeError(f"expected {what}, got {_kind_of(value)}")
    return value


def _collect(items: Sequence[tuple[str | int, Callable[[], T]]], cl: type) -> list[T]:
    """Run each structuring step; gather failures with their key or index, as cattrs does."""
    results: list[T] = []
    errors: list[Exception] = []
    for key, step in items:
        try:
            results.append(step())
        except Exception as exc:  # noqa: BLE001 - every failure is reported with its place
            exc.add_note(IterableValidationNote(f"Structuring @ {key!r}", key, cl))
            errors.append(exc)
            if len(errors) >= MAX_ERRORS_PER_LIST:  # a file that is wrong everywhere: say enough, fast
                break
    if errors:
        raise IterableValidationError(f"While structuring {cl.__name__}", errors, cl)
    return results


def _structure_str(value: object, _type: object) -> str:
    if isinstance(value, str):
        return value
    raise ShapeError(f"expected text, got {_kind_of(value)}")


def _structure_bool(value: object, _type: object) -> bool:
    if isinstance(value, bool):
        return value
    raise ShapeError(f"expected true or false, got {_kind_of(value)}")


def _structure_int(value: object, _type: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ShapeError(f"expected a whole number, got {_kind_of(value)}")


def _structure_float(value: object, _type: object) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    raise ShapeError(f"expected a number, got {_kind_of(value)}")


def _parser(parse: Callable[[object], T]) -> Callable[[object, object], T]:
    def structure(value: object, _type: object) -> T:
        return parse(value)

    return structure


def _strategy_kind(value: object, _type: object) -> StrategyKind:
    text = value.strip().lower().replace("_", "-").replace(" ", "-") if isinstance(value, str) else None
    aliases = {"bluegreen": "blue-green", "rolling-update": "rolling", "rollingupdate": "rolling"}
    text = aliases.get(text or "", text)
    for kind in StrategyKind:
        if kind.value == text:
            return kind
    raise NotationError(f"expected a strategy: rolling, blue-green or canary; got {describe_value(value)}")


def _enum_by_value(enum_type: type[enum.Enum], value: object) -> enum.Enum:
    for member in enum_type:
        if isinstance(value, str) and member.value.lower() == value.strip().lower():
            return member
    allowed = ", ".join(str(member.value) for member in enum_type)
    raise NotationError(f"expected one of {allowed}; got {describe_value(value)}")


def _taint_effect(value: object, _type: object) -> TaintEffect:
    for effect in TaintEffect:
        if value in (effect.value, effect.kubernetes):
            return effect
    raise NotationError(f"expected NO_SCHEDULE, PREFER_NO_SCHEDULE or NO_EXECUTE; got {describe_value(value)}")


def _objective_of(cl: type[T], value: object) -> T:
    objective = parse_objective(value)
    if not isinstance(objective, cl):
        raise NotationError(f"expected {cl.__name__}, got {describe_value(value)}")
    return objective


def _is_tuple(cl: Any) -> bool:
    return typing.get_origin(cl) is tuple


def make_converter() -> cattrs.Converter:
    """The converter for the platform file. Structure with ``converter.structure(data, Platform)``."""
    shapes = _Shapes(cattrs.Converter(forbid_extra_keys=True, detailed_validation=True))
    shapes.scalars()
    shapes.notations()
    shapes.strategies()
    shapes.selectors_and_metrics()
    shapes.sections()
    return shapes.conv


_METRIC_TYPES: dict[str, tuple[str, type[Any]]] = {
    "resource": ("resource", ResourceMetricTarget),
    "custom": ("custom", CustomMetricTarget),
    "pods": ("custom", CustomMetricTarget),
    "external": ("external", ExternalMetricTarget),
}
_METRIC_NAMES = {ResourceMetricTarget: "Resource", CustomMetricTarget: "Custom", ExternalMetricTarget: "External"}
_NOTATIONS: tuple[tuple[type[Any], Callable[[object], Any]], ...] = (
    (Duration, Duration.parse),
    (Percentage, Percentage.parse),
    (Threshold, Threshold.parse),
    (RelativeThreshold, RelativeThreshold.parse),
    (LatencyObjective, LatencyObjective.parse),
    (ErrorBudgetStatement, ErrorBudgetStatement.parse),
    (ByteSize, ByteSize.parse),
    (CpuQuantity, CpuQuantity.parse),
    (MachineType, MachineType.parse),
    (DeploymentTrigger, DeploymentTrigger.parse),
    (TrafficSplit, TrafficSplit.parse),
)


@attrs.define
class _Shapes:
    """Registers, concern by concern, how each part of the file maps to the domain."""

    conv: cattrs.Converter

    # -- building blocks ---------------------------------------------------------------------

    def strict(self, cl: type[Any], **overrides: Any) -> None:
        """Structure *cl* from a mapping with no unknown keys; unstructure it back, with the same overrides."""
        base = make_dict_structure_fn(cl, self.conv, _cattrs_forbid_extra_keys=True, **overrides)
        self.conv.register_structure_hook(cl, lambda value, _type: base(_expect_mapping(value), cl))
        self.conv.register_unstructure_hook(
            cl, make_dict_unstructure_fn(cl, self.conv, _cattrs_omit_if_default=False, **overrides)
        )

    def keyed(self, field: str, cl: type[Any], key: str = "name") -> dict[str, Any]:
        """An override for a section that maps names to entries (``environments: {production: {...}}``)."""

        def one(name: str, body: object) -> Any:
            body = _expect_mapping({} if body is None else body)
            if key in body:
                raise ShapeError(f"unknown key {key!r}: the name is the key above")
            return self.conv.structure({key: name, **body}, cl)

        def structure(value: object, _type: object) -> tuple[Any, ...]:
            items = _expect_mapping(value, f"a mapping of names to {cl.__name__} settings")
            return tuple(_collect([(k, partial(one, k, v)) for k, v in items.items()], cl))

        def unstructure(values: tuple[Any, ...]) -> dict[str, Any]:
            bodies = [self.conv.unstructure(item) for item in values]
            return {body.pop(key): body for body in bodies}

        return {field: override(struct_hook=structure, unstruct_hook=unstructure)}

    def tuple_of(self, cl: Any) -> Callable[[object, object], tuple[Any, ...]]:
        (item_type, *_rest) = typing.get_args(cl)

        def structure(value: object, _type: object) -> tuple[Any, ...]:
            items = _expect_list(value)
            return tuple(_collect([(i, partial(self.conv.structure, v, item_type)) for i, v in enumerate(items)], cl))

        return structure

    # -- concerns ------------------------------------------------------------------------------

    def scalars(self) -> None:
        """Strict scalars, lists as tuples, and every other attrs class strict about its keys."""
        conv = self.conv
        conv.register_structure_hook(str, _structure_str)
        conv.register_structure_hook(bool, _structure_bool)
        conv.register_structure_hook(int, _structure_int)
        conv.register_structure_hook(float, _structure_float)
        conv.register_structure_hook(int | str, lambda v, _: v if isinstance(v, str) else _structure_int(v, int))
        conv.register_structure_hook_factory(_is_tuple, self.tuple_of)
        conv.register_unstructure_hook_factory(_is_tuple, lambda _cl: lambda v: [conv.unstructure(i) for i in v])
        conv.register_structure_hook_factory(attrs.has, self._strict_factory)
        self.strict(IngressRule, from_=override(rename="from"))
        self.strict(IPBlock, except_=override(rename="except"))

    def _strict_factory(self, cl: type[Any]) -> Callable[[object, object], Any]:
        base = make_dict_structure_fn(cl, self.conv, _cattrs_forbid_extra_keys=True)
        return lambda value, _type: base(_expect_mapping(value), cl)

    def notations(self) -> None:
        """Every notation is read by its ``parse`` and written by its ``format``."""
        conv = self.conv
        for cl, parse in _NOTATIONS:
            conv.register_structure_hook(cl, _parser(parse))
            conv.register_unstructure_hook(cl, lambda value: value.format())
        conv.register_structure_hook(StrategyKind, _strategy_kind)
        conv.register_structure_hook(TaintEffect, _taint_effect)
        conv.register_structure_hook_factory(
            lambda cl: isinstance(cl, type) and issubclass(cl, enum.Enum) and cl not in (StrategyKind, TaintEffect),
            lambda cl: lambda value, _type: _enum_by_value(cl, value),
        )
        conv.register_structure_hook(SLOObjective, _parser(parse_objective))
        conv.register_unstructure_hook(SLOObjective, lambda value: value.format())
        for objective in typing.get_args(SLOObjective):
            conv.register_structure_hook(objective, _parser(partial(_objective_of, objective)))
            conv.register_unstructure_hook(objective, lambda value: value.format())
        conv.register_structure_hook(Threshold | RelativeThreshold, _parser(_criterion_threshold))
        alerting = LatencyObjective | Threshold
        conv.register_structure_hook(alerting, _parser(parse_alerting_threshold))
        conv.register_structure_hook(
            alerting | None, lambda value, _type: None if value is None else parse_alerting_threshold(value)
        )

    def strategies(self) -> None:
        """Canary stages ("stable"), success criteria as a mapping, blue-green's one-key list items."""
        self.strict(
            CanaryStep,
            duration=override(
                struct_hook=_canary_duration, unstruct_hook=lambda d: "stable" if d is None else d.format()
            ),
        )
        self.strict(
            FailureHandling,
            rollback_threshold=override(
                struct_hook=lambda value, _type: FailureHandling.parse_threshold(value),
                unstruct_hook=lambda count: f"{count} failed criteria",
            ),
        )
        self.strict(
            CanaryStrategy,
            success_criteria=override(
                struct_hook=_success_criteria, unstruct_hook=lambda cs: {c.metric: c.threshold.format() for c in cs}
            ),
        )
        self.strict(
            BlueGreenStrategy,
            validation_steps=override(
                struct_hook=_validation_steps, unstruct_hook=lambda steps: [{s.name: s.description} for s in steps]
            ),
            rollback_triggers=override(
                struct_hook=_rollback_triggers,
                unstruct_hook=lambda triggers: [
                    {t.name: t.threshold.format() if t.threshold else t.description} for t in triggers
                ],
            ),
        )

    def selectors_and_metrics(self) -> None:
        """Label selectors (``{}`` or ``{match_labels: ...}``) and autoscaling metrics tagged by ``type``."""
        conv = self.conv
        conv.register_structure_hook(LabelSelector, _selector)
        conv.register_unstructure_hook(
            LabelSelector, lambda s: {"match_labels": dict(s.match_labels)} if s.match_labels else {}
        )
        conv.register_structure_hook(ScalingMetric, self._scaling_metric)
        for cl in typing.get_args(ScalingMetric):
            conv.register_unstructure_hook(cl, make_dict_unstructure_fn(cl, conv))
        conv.register_unstructure_hook_factory(
            _is_scaling_metric_tuple,
            lambda _cl: (
                lambda metrics: [
                    {"type": _METRIC_NAMES[type(m)], _METRIC_NAMES[type(m)].lower(): conv.unstructure(m)}
                    for m in metrics
                ]
            ),
        )

    def _scaling_metric(self, value: object, _type: object) -> ScalingMetric:
        item = _expect_mapping(
            value, "a metric such as {type: Resource, resource: {name: cpu, target_utilization: 70}}"
        )
        extra = set(item) - {"type", *_METRIC_TYPES}
        if extra:
            key = sorted(extra)[0]
            raise InvariantError(
                f"unknown key {key!r}{did_you_mean(key, ['type', 'resource', 'custom', 'external'])}", field=key
            )
        kind = item.get("type")
        if not isinstance(kind, str) or kind.lower() not in _METRIC_TYPES:
            raise InvariantError(
                f"a metric's type is Resource, Custom (or Pods) or External; got {describe_value(kind)}",
                field="type" if "type" in item else None,
            )
        key, cl = _METRIC_TYPES[kind.lower()]
        extra = set(item) - {"type", key}
        if extra:
            raise InvariantError(f"unknown key; a {kind} metric has type and {key}", field=sorted(extra)[0])
        if key not in item:
            raise ShapeError(f"a {kind} metric describes itself under {key}:")
        return typing.cast(ScalingMetric, _collect([(key, partial(self.conv.structure, item[key], cl))], cl)[0])

    def sections(self) -> None:
        """The platform's sections: name-keyed ones, alert groups, approver groups, descriptive ones."""
        conv = self.conv

        def alert_group(name: str, rules: object) -> AlertGroup:
            return AlertGroup(name, conv.structure(rules, tuple[AlertRule, ...]))

        def alert_groups(value: object, _type: object) -> tuple[AlertGroup, ...]:
            items = _expect_mapping(value, "a mapping of group names to lists of alerts")
            return tuple(_collect([(k, partial(alert_group, k, v)) for k, v in items.items()], AlertGroup))

        def member(value: object) -> tuple[str, str | None]:
            if not isinstance(value, dict):
                return conv.structure(value, str), None
            extra = set(value) - {"login", "id"}
            if extra or "login" not in value:
                key = sorted(extra)[0] if extra else None
                raise InvariantError(
                    "a member is a GitHub login, or {login: bob, id: 1002} with its account id", field=key
                )
            user_id = value.get("id")
            if user_id is not None and (isinstance(user_id, bool) or not isinstance(user_id, int | str)):
                raise InvariantError(
                    f"the id is GitHub's number for the account; got {describe_value(user_id)}", field="id"
                )
            return conv.structure(value["login"], str), None if user_id is None else str(user_id)

        def approver_group(name: str, members: object) -> ApproverGroup:
            items = _expect_list([] if members is None else members)
            people = _collect([(i, partial(member, v)) for i, v in enumerate(items)], ApproverGroup)
            return ApproverGroup(
                name,
                tuple(login for login, _ in people),
                tuple((login, user_id) for login, user_id in people if user_id is not None),
            )

        def unstructure_group(group: ApproverGroup) -> list[object]:
            return [m if group.id_of(m) is None else {"login": m, "id": group.id_of(m)} for m in group.members]

        def approver_groups(value: object, _type: object) -> tuple[ApproverGroup, ...] | None:
            if value is None:
                return None
            items = _expect_mapping(value, "a mapping of group names to lists of members, such as devops-team: [alice]")
            return tuple(_collect([(k, partial(approver_group, k, v)) for k, v in items.items()], ApproverGroup))

        self.strict(IdentityPolicy, repository_ids=override(struct_hook=_repository_ids))
        self.strict(GKECluster, project_number=override(struct_hook=_project_number))
        self.strict(
            GlobalLoadBalancer,
            domains=override(
                struct_hook=_domains,
                unstruct_hook=lambda pairs: {environment: list(domains) for environment, domains in pairs},
            ),
            static_ips=override(struct_hook=_static_ips, unstruct_hook=dict),
        )
        self.strict(Receiver, **_secret_sources())
        self.strict(NotificationSettings, **self.keyed("receivers", Receiver))
        self.strict(DisasterRecovery, **self.keyed("backup_strategy", BackupPolicy))
        self.strict(KubernetesSettings, **self.keyed("clusters", ClusterBinding, key="environment"))
        self.strict(GitOpsBinding)
        self.strict(GitOpsSettings, **self.keyed("environments", GitOpsBinding, key="environment"))
        self.strict(
            DrCluster,
            zones=override(
                struct_hook=_zone_pairs,
                unstruct_hook=dict,
            ),
        )
        for kind in (DnsRecord, DnsFailover, FailoverHealth, FailoverSettings):
            self.strict(kind)
        self.strict(SecretManagement, **self.keyed("secret_types", SecretType), **self.keyed("secrets", ManagedSecret))
        self.strict(
            Platform,
            **self.keyed("environments", Environment),
            **self.keyed("slo_definitions", SLODefinition),
            **self.keyed("hpa_configuration", HorizontalAutoscaler, key="service"),
            **self.keyed("network_policies", NetworkPolicy),
            **self.keyed("services", Service),
            **self.keyed("resource_profiles", ResourceProfile),
            alerting_rules=override(
                struct_hook=alert_groups,
                unstruct_hook=lambda groups: {g.name: [conv.unstructure(r) for r in g.rules] for g in groups},
            ),
            approver_groups=override(
                struct_hook=approver_groups,
                unstruct_hook=lambda groups: None if groups is None else {g.name: unstructure_group(g) for g in groups},
            ),
            monitoring_stack=override(struct_hook=_descriptive),
            security_layers=override(struct_hook=_descriptive),
        )


# -- hooks for one shape each -------------------------------------------------------------------


def _zone_pairs(value: object, _type: object) -> tuple[tuple[str, str], ...]:
    """``failover.cluster.zones``: a mapping of each primary zone to its DR zone."""
    items = _expect_mapping(value, "a mapping of each primary zone to its DR zone, such as us-central1-a: us-east1-b")

    def pair(primary: object, dr: object) -> tuple[str, str]:
        if not isinstance(primary, str) or not isinstance(dr, str):
            raise ShapeError(f"a zone name maps to a zone name, got {_kind_of(dr)}")
        return primary, dr

    # each failure placed at its primary zone: failover.cluster.zones.us-central1-a
    return tuple(_collect([(key, partial(pair, key, dr)) for key, dr in items.items()], DrCluster))


def _secret_source(field: str) -> Callable[[object, object], SecretSource | None]:
    """A receiver's URL, key or signing secret: where it is read (``{env: NAME}`` or ``{secret: NAME}``) — never
    the value itself, which would put a credential in a file that is committed and printed."""

    def structure(value: object, _type: object) -> SecretSource | None:
        if value is None:
            return None
        if isinstance(value, Mapping) and len(value) == 1:
            ((kind, name),) = value.items()
            if kind in ("env", "secret") and isinstance(name, str) and name.strip():
                return SecretSource(str(kind), name.strip())
        if isinstance(value, str):
            raise ShapeError(
                f"a receiver's {field} is read from the environment or Secret Manager, never written in the file: "
                "write {env: NAME} (an environment variable) or {secret: NAME} (a Secret Manager secret)"
            )
        raise ShapeError(f"expected {{env: NAME}} or {{secret: NAME}}, got {_kind_of(value)}")

    return structure


def _secret_sources() -> dict[str, Any]:
    def unstructure(source: SecretSource | None) -> dict[str, str] | None:
        return None if source is None else {source.kind: source.name}

    return {
        field: override(struct_hook=_secret_source(field), unstruct_hook=unstructure)
        for field in ("url", "routing_key", "signing_secret")
    }


def _canary_duration(value: object, _type: object) -> Duration | None:
    """A stage's duration; ``stable`` (the last stage) holds until the release is complete."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("stable", "indefinite")):
        return None
    return Duration.parse(value)


def _criterion_threshold(value: object) -> Threshold | RelativeThreshold:
    """``< 0.5%``, or ``< 1.2x current`` (relative to the current version)."""
    if isinstance(value, str) and re.search(r"\b(current|baseline)\b", value, re.I):
        return RelativeThreshold.parse(value)
    return Threshold.parse(value)


def _criterion(metric: str, threshold: object) -> MetricCriterion:
    return typing.cast(MetricCriterion, _whole(MetricCriterion, metric, lambda: _criterion_threshold(threshold)))


def _success_criteria(value: object, _type: object) -> tuple[MetricCriterion, ...]:
    items = _expect_mapping(value, "a mapping of metric names to thresholds, such as error_rate: '< 0.5%'")
    return tuple(_collect([(k, partial(_criterion, k, v)) for k, v in items.items()], MetricCriterion))


def _single_key(value: object, what: str) -> tuple[str, Any]:
    item = _expect_mapping(value, f"a one-key mapping such as {what}")
    if len(item) != 1:
        raise ShapeError(f"expected a one-key mapping such as {what}, got {len(item)} keys ({', '.join(item)})")
    ((key, inner),) = item.items()
    return key, inner


def _validation_step(item: object) -> ValidationStep:
    name, description = _single_key(item, "health_checks: 'All pods healthy'")
    step = partial(_whole, ValidationStep, name, lambda: _structure_str(description, str))
    return typing.cast(ValidationStep, _collect([(name, step)], ValidationStep)[0])


def _validation_steps(value: object, _type: object) -> tuple[ValidationStep, ...]:
    return tuple(
        _collect([(i, partial(_validation_step, v)) for i, v in enumerate(_expect_list(value))], ValidationStep)
    )


def _rollback_trigger(item: object) -> RollbackTrigger:
    name, raw = _single_key(item, "error_rate: '> 1%'")

    def body() -> tuple[Threshold | None, str | None]:
        text = _structure_str(raw, str)
        return (Threshold.parse(text), None) if text.strip()[:1] in "<>" else (None, text)

    trigger = _collect([(name, partial(_whole, RollbackTrigger, name, body, spread=True))], RollbackTrigger)
    return typing.cast(RollbackTrigger, trigger[0])


def _rollback_triggers(value: object, _type: object) -> tuple[RollbackTrigger, ...]:
    return tuple(
        _collect([(i, partial(_rollback_trigger, v)) for i, v in enumerate(_expect_list(value))], RollbackTrigger)
    )


def _selector(value: object, _type: object) -> LabelSelector:
    item = _expect_mapping(value, "a selector such as {} or {match_labels: {app: web}}")
    extra = set(item) - {"match_labels"}
    if extra:
        key = sorted(extra)[0]
        raise InvariantError(f"unknown key {key!r}{did_you_mean(key, ['match_labels'])}", field=key)

    def labels() -> tuple[tuple[str, str], ...]:
        mapping = _expect_mapping(item.get("match_labels") or {}, "a mapping of labels such as {app: web}")
        pairs = [(k, partial(_label, k, v)) for k, v in mapping.items()]
        return tuple(_collect(pairs, LabelSelector))

    return LabelSelector(_collect([("match_labels", labels)], LabelSelector)[0])


def _label(key: str, value: object) -> tuple[str, str]:
    return key, _label_value(value)


def _repository_id(value: object) -> str:
    """A repository's id as GitHub gives it (``gh api repos/OWNER/REPO --jq .id``): a number, or its digits."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return value
    raise ShapeError(
        f"expected a repository id, GitHub's number for it (gh api repos/OWNER/REPO --jq .id), got {_kind_of(value)}"
    )


def _repository_ids(value: object, _type: object) -> tuple[str, ...]:
    items = _expect_list(value, "a list of repository ids, such as [123456789]")
    return tuple(_collect([(i, partial(_repository_id, v)) for i, v in enumerate(items)], IdentityPolicy))


def _project_number(value: object, _type: object) -> str | None:
    """A project's number as ``gcloud projects describe PROJECT --format='value(projectNumber)'`` prints it: a number,
    or its digits."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return str(value)
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return value
    raise ShapeError(
        "expected the project's number (gcloud projects describe PROJECT --format='value(projectNumber)'), "
        f"got {_kind_of(value)}"
    )


def _certificate_domain(value: object) -> str:
    domain = _structure_str(value, str)
    problem = certificate_domain_problem(domain)
    if problem is not None:
        raise InvariantError(problem)
    return domain


def _domains(value: object, _type: object) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """``{production: [api.findly.now], staging: [...]}``: each environment's certificate domains, each checked at its
    place."""
    items = _expect_mapping(value, "a mapping of environments to their domains, such as production: [api.findly.now]")

    def one(environment: str, domains: object) -> tuple[str, tuple[str, ...]]:
        listed = _expect_list(domains, "a list of domains, such as [api.findly.now]")
        checked = _collect([(i, partial(_certificate_domain, d)) for i, d in enumerate(listed)], GlobalLoadBalancer)
        return environment, tuple(checked)

    return tuple(_collect([(k, partial(one, k, v)) for k, v in items.items()], GlobalLoadBalancer))


def _static_ips(value: object, _type: object) -> tuple[tuple[str, str], ...]:
    """``{production: findly-now-production}``: each environment's reserved global address, by name."""
    items = _expect_mapping(value, "a mapping of environments to reserved address names, such as production: NAME")

    def one(environment: str, name: object) -> tuple[str, str]:
        address = _structure_str(name, str)
        problem = address_name_problem(address)
        if problem is not None:
            raise InvariantError(problem)
        return environment, address

    return tuple(_collect([(k, partial(one, k, v)) for k, v in items.items()], GlobalLoadBalancer))


def _descriptive(value: object, _type: object) -> Mapping[str, object]:
    return dict(_expect_mapping(value))


def _is_scaling_metric_tuple(cl: Any) -> bool:
    return _is_tuple(cl) and typing.get_args(cl)[:1] == (ScalingMetric,)


def _whole(cl: type[Any], name: str, body: Callable[[], Any], *, spread: bool = False) -> Any:
    """Build ``cl(name, body())``, reporting a broken invariant at the entry itself, not at a field of it."""
    parts = body()
    try:
        return cl(name, *parts) if spread else cl(name, parts)
    except InvariantError as exc:
        raise InvariantError(exc.message) from None


def _label_value(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return str(value)
    return _structure_str(value, str)
