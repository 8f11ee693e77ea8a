"""Network policies, the service mesh's mTLS and authorization, and secret rotation."""

from __future__ import annotations

import ipaddress
import re

import attrs

from findly_infra.domain.errors import InvariantError, first_repeat
from findly_infra.domain.notation import Duration, cadence_in

__all__ = [
    "ROTATION_PERIOD_MAX",
    "ROTATION_PERIOD_MIN",
    "AuthorizationPolicy",
    "EgressRule",
    "IPBlock",
    "IngressRule",
    "IstioConfiguration",
    "LabelSelector",
    "ManagedSecret",
    "MutualTLS",
    "NetworkPeer",
    "NetworkPolicy",
    "NetworkPort",
    "Operation",
    "PrincipalSet",
    "SecretManagement",
    "SecretType",
    "SecurityPolicy",
]


@attrs.frozen
class LabelSelector:
    """``{match_labels: {app: ingress-controller}}``; the empty selector ``{}`` selects everything."""

    match_labels: tuple[tuple[str, str], ...] = ()

    @property
    def selects_everything(self) -> bool:
        return not self.match_labels

    def as_dict(self) -> dict[str, str]:
        return dict(self.match_labels)


@attrs.frozen
class IPBlock:
    cidr: str
    except_: tuple[str, ...] = ()

    def __attrs_post_init__(self) -> None:
        for field, values in (("cidr", (self.cidr,)), ("except", self.except_)):
            for value in values:
                try:
                    ipaddress.ip_network(value, strict=False)  # pragma: no mutate - equivalent: None is falsy
                except ValueError:
                    raise InvariantError(f"{value!r} is not a CIDR block such as '10.0.0.0/8'", field=field) from None


@attrs.frozen
class NetworkPeer:
    """A source or destination of traffic: by namespace labels, pod labels, or address block."""

    namespace_selector: LabelSelector | None = None
    pod_selector: LabelSelector | None = None
    ip_block: IPBlock | None = None

    def __attrs_post_init__(self) -> None:
        if self.namespace_selector is None and self.pod_selector is None and self.ip_block is None:
            raise InvariantError("a peer names a namespace_selector, a pod_selector or an ip_block")
        if self.ip_block is not None and (self.namespace_selector or self.pod_selector):
            raise InvariantError("a peer with an ip_block names no selector", field="ip_block")


@attrs.frozen
class NetworkPort:
    port: int | str
    protocol: str = "TCP"

    def __attrs_post_init__(self) -> None:
        if self.protocol not in ("TCP", "UDP", "SCTP"):
            raise InvariantError(f"protocol is TCP, UDP or SCTP, got {self.protocol!r}", field="protocol")
        if isinstance(self.port, int) and not 1 <= self.port <= 65535:
            raise InvariantError(f"a port lies between 1 and 65535, got {self.port}", field="port")
        if isinstance(self.port, str) and not re.match(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", self.port):
            raise InvariantError(f"{self.port!r} is not a port number or a port name", field="port")


@attrs.frozen
class IngressRule:
    """Traffic allowed in: ``from`` peers (none listed: from anywhere) on ``ports`` (none: every port)."""

    from_: tuple[NetworkPeer, ...] = ()
    ports: tuple[NetworkPort, ...] = ()


@attrs.frozen
class EgressRule:
    """Traffic allowed out: ``to`` peers (none listed: anywhere) on ``ports`` (none: every port)."""

    to: tuple[NetworkPeer, ...] = ()
    ports: tuple[NetworkPort, ...] = ()


@attrs.frozen
class NetworkPolicy:
    """A Kubernetes NetworkPolicy, named as in ``network_policies``."""

    name: str
    pod_selector: LabelSelector = LabelSelector()
    policy_types: tuple[str, ...] = ()
    ingress: tuple[IngressRule, ...] = ()
    egress: tuple[EgressRule, ...] = ()

    def __attrs_post_init__(self) -> None:
        for index, kind in enumerate(self.policy_types):
            if kind not in ("Ingress", "Egress"):
                raise InvariantError(
                    f"a policy type is 'Ingress' or 'Egress', got {kind!r}", field="policy_types", index=index
                )
        if self.egress and self.policy_types and "Egress" not in self.policy_types:
            raise InvariantError("egress rules are listed but policy_types leaves out 'Egress'", field="egress")
        if self.ingress and self.policy_types and "Ingress" not in self.policy_types:
            raise InvariantError("ingress rules are listed but policy_types leaves out 'Ingress'", field="ingress")

    @property
    def effective_policy_types(self) -> tuple[str, ...]:
        """As Kubernetes defaults them: Ingress always, Egress when egress rules are listed."""
        if self.policy_types:
            return self.policy_types
        return ("Ingress", "Egress") if self.egress else ("Ingress",)


@attrs.frozen
class MutualTLS:
    mode: str = "STRICT"
    min_tls_version: str = "TLSV1_2"

    def __attrs_post_init__(self) -> None:
        if self.mode not in ("STRICT", "PERMISSIVE", "DISABLE"):
            raise InvariantError(f"mode is STRICT, PERMISSIVE or DISABLE, got {self.mode!r}", field="mode")
        if self.min_tls_version not in ("TLSV1_2", "TLSV1_3", "TLS_AUTO"):
            raise InvariantError(
                f"min_tls_version is TLSV1_2, TLSV1_3 or TLS_AUTO, got {self.min_tls_version!r}",
                field="min_tls_version",
            )


_PRINCIPAL = re.compile(r"^[^/\s]+/ns/([a-z0-9-]+)/sa/([a-z0-9-]+)$")
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE")


@attrs.frozen
class PrincipalSet:
    """Workload identities, ``cluster.local/ns/findly-now/sa/fn-posts``, and namespaces."""

    principals: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()

    def __attrs_post_init__(self) -> None:
        for index, principal in enumerate(self.principals):
            if principal != "*" and not _PRINCIPAL.match(principal):
                raise InvariantError(
                    f"{principal!r} is not a principal such as 'cluster.local/ns/findly-now/sa/fn-posts'",
                    field="principals",
                    index=index,
                )

    @property
    def service_accounts(self) -> tuple[tuple[str, str], ...]:
        """``(namespace, service account)`` of each principal."""
        return tuple((m.group(1), m.group(2)) for p in self.principals if (m := _PRINCIPAL.match(p)))


@attrs.frozen
class Operation:
    methods: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()

    def __attrs_post_init__(self) -> None:
        for index, method in enumerate(self.methods):
            if method not in _METHODS:
                raise InvariantError(
                    f"unknown HTTP method {method!r}; known: {', '.join(_METHODS)}", field="methods", index=index
                )
        for index, path in enumerate(self.paths):
            if not path.startswith("/") and path != "*":
                raise InvariantError(f"a path starts with '/', got {path!r}", field="paths", index=index)


@attrs.frozen
class AuthorizationPolicy:
    """An Istio authorization rule: which source may call which destination, how."""

    name: str
    source: PrincipalSet = PrincipalSet()
    destination: PrincipalSet = PrincipalSet()
    operation: Operation = Operation()
    action: str = "ALLOW"

    def __attrs_post_init__(self) -> None:
        if self.action not in ("ALLOW", "DENY", "AUDIT"):
            raise InvariantError(f"action is ALLOW, DENY or AUDIT, got {self.action!r}", field="action")
        if not self.destination.principals:
            raise InvariantError("name the workload the policy protects in destination.principals", field="destination")


@attrs.frozen
class IstioConfiguration:
    mtls: MutualTLS = MutualTLS()
    authorization_policies: tuple[AuthorizationPolicy, ...] = ()

    def __attrs_post_init__(self) -> None:
        names = [policy.name for policy in self.authorization_policies]
        if (repeat := first_repeat(names)) is not None:
            raise InvariantError(
                f"policy {names[repeat]!r} is listed twice", field="authorization_policies", index=repeat
            )


@attrs.frozen
class SecretType:
    """A kind of secret and how often it is rotated (``database_credentials: 30 days``)."""

    name: str
    rotation_period: Duration
    access_pattern: str = ""
    auto_renewal: str | None = None

    def __attrs_post_init__(self) -> None:
        period = self.rotation_period.milliseconds
        if period <= 0:
            raise InvariantError("rotation_period is a positive time", field="rotation_period")
        if not ROTATION_PERIOD_MIN.milliseconds <= period <= ROTATION_PERIOD_MAX.milliseconds or period % 1000:
            given = f"{period / 1000:g} seconds" if period % 1000 else self.rotation_period.describe()
            raise InvariantError(
                "rotation_period is 1 hour to 100 years (3153600000 seconds) in whole seconds, the only periods a "
                f"Secret Manager rotation schedule takes (secrets schedule sets one from it), got {given}",
                field="rotation_period",
            )


ROTATION_PERIOD_MIN = Duration.of(hours=1)
ROTATION_PERIOD_MAX = Duration.of(seconds=3_153_600_000)
"""Secret Manager's bounds on a rotation period: "at least 3600s (1h) and at most 3153600000s (100 years)", "in
seconds" (``Rotation.rotation_period``, google/cloud/secretmanager/v1/resources.proto;
https://cloud.google.com/secret-manager/docs/secret-rotation). A secret type's period is what ``secrets schedule``
asks for, so a period outside them is refused where the file says it, not by the API at the first schedule."""


@attrs.frozen
class ManagedSecret:
    """A secret the services read (our own ``secret_management.secrets``): its type (a ``secret_types`` entry, which
    gives its rotation period), the services that read it, and any other principal allowed to (``readers``, IAM
    members such as ``serviceAccount:ci@project.iam.gserviceaccount.com``). In Secret Manager it is the secret
    ``<name>-<environment>`` of each environment."""

    name: str
    type: str
    services: tuple[str, ...] = ()
    readers: tuple[str, ...] = ()

    def __attrs_post_init__(self) -> None:
        if not re.match(r"^[A-Za-z0-9_-]{1,200}$", self.name):
            raise InvariantError(
                f"{self.name!r} is not a secret name (letters, digits, '-' and '_': Secret Manager's)", field="name"
            )
        for index, member in enumerate(self.readers):
            if not re.match(r"^(user|serviceAccount|group|domain|principal|principalSet):\S+$", member):
                raise InvariantError(
                    f"{member!r} is not an IAM member such as 'serviceAccount:ci@p.iam.gserviceaccount.com'",
                    field="readers",
                    index=index,
                )


@attrs.frozen
class SecretManagement:
    """Where secrets live and how they rotate. ``rotation`` is prose ("Automated 90-day rotation");
    :attr:`default_rotation_period` is the period it names. ``secrets`` and ``grace_period`` are our own: the secrets
    the services read, and how long a rotated secret's previous version may stay enabled."""

    storage: str = "Google Secret Manager"
    access_control: str = ""
    rotation: str = ""
    encryption: str = ""
    secret_types: tuple[SecretType, ...] = ()
    secrets: tuple[ManagedSecret, ...] = ()
    grace_period: Duration = Duration.of(days=7)
    release_gate: bool = False
    """Before a rollout starts, check that every secret its service reads exists with an enabled version (rule
    ``secrets-present``)."""
    rotation_topic: str | None = None
    """The Pub/Sub topic Secret Manager notifies when a secret is due (``projects/P/topics/T``): with it,
    ``secrets schedule`` sets each secret's native rotation schedule from its type's period."""

    def __attrs_post_init__(self) -> None:
        if self.rotation_topic is not None and not re.match(r"^projects/[^/]+/topics/[^/]+$", self.rotation_topic):
            raise InvariantError(
                f"{self.rotation_topic!r} is not a Pub/Sub topic such as 'projects/findly-now/topics/secret-rotation'",
                field="rotation_topic",
            )

    def secret_type(self, name: str) -> SecretType | None:
        return next((kind for kind in self.secret_types if kind.name == name), None)

    @property
    def default_rotation_period(self) -> Duration | None:
        return cadence_in(self.rotation) if self.rotation else None


@attrs.frozen
class SecurityPolicy:
    """The entity grouping network policies, the mesh's rules and secret management."""

    network_policies: tuple[NetworkPolicy, ...] = ()
    istio: IstioConfiguration | None = None
    secrets: SecretManagement | None = None
