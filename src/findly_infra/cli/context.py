"""What a command is given: its arguments, where to write, and the composition root's settings and runtime.

Everything a command opens is closed when it ends, however it ends: the runtime is entered into the
context's ``ExitStack``, which the command line's ``main`` closes.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Callable, Mapping
from typing import IO, TYPE_CHECKING, Any, NamedTuple

from findly_infra.cli import present

if TYPE_CHECKING:
    from datetime import datetime

    from findly_infra.bootstrap import Runtime, Settings
    from findly_infra.domain.identity import VerifiedIdentity
    from findly_infra.domain.platform import Platform
    from findly_infra.domain.policy import EnvironmentPolicy

__all__ = [
    "Command",
    "Context",
    "add_versions_argument",
    "checked",
    "name_argument",
    "reason_argument",
    "service_versions",
    "strategy_kind",
    "version_argument",
]


class Context:
    """One command's arguments, output and resources."""

    def __init__(self, args: argparse.Namespace, out: IO[str], stack: contextlib.ExitStack) -> None:
        self.args = args
        self.out = out
        self.stack = stack
        self._settings: Settings | None = None

    @property
    def json(self) -> bool:
        return bool(self.args.json)

    @property
    def settings(self) -> Settings:
        """The settings the flags and the environment give (see ``findly_infra.bootstrap.Settings``)."""
        if self._settings is None:
            from findly_infra.bootstrap import Settings

            args = self.args
            self._settings = Settings.from_environment(
                config=args.config,
                state=args.state,
                prometheus_url=args.prometheus_url,
                now=args.now,
                scenario=getattr(args, "scenario", None),
                kube_context=getattr(args, "context", None),
            )
        return self._settings

    def use_state(self, url: str, *, now: datetime | None = None) -> None:
        """Keep state at *url* instead of where the flags say, from virtual time *now* (the demo's own store)."""
        import attrs

        self._settings = attrs.evolve(self.settings, state=url, state_given=True, now=now)

    def platform(self, *, embedded_example: bool = False) -> Platform:
        from findly_infra.bootstrap import load_platform

        return load_platform(self.settings, embedded_example=embedded_example)

    def runtime(
        self,
        platform: Platform,
        *,
        service: str | None = None,
        scripted: bool = False,
        read_only: bool = False,
        moves: str | None = None,
        notify: bool = True,
        after: bool = True,
    ) -> Runtime:
        """Every port the command needs, closed when the command ends (*read_only*: creates no state; *moves*: the
        environment whose traffic the command moves — refused in virtual time where a cluster is bound, before the
        state is touched). A command that may record events decides and delivers their notifications when it ends,
        before the state closes (``cli.notify_after.after_command``), unless *after* is false; *notify* false (the
        demo) keeps no notifications at all."""
        from findly_infra.bootstrap import open_runtime

        runtime = self.stack.enter_context(
            open_runtime(
                self.settings,
                platform,
                service=service,
                scripted=scripted,
                read_only=read_only,
                moves=moves,
                notify=notify,
            )
        )
        if not read_only and after and runtime.notifications is not None:
            from findly_infra.cli.notify_after import after_command

            self.stack.callback(after_command, runtime, service, self.json)  # first out: before the runtime closes
        return runtime

    def actor(self) -> str:
        from findly_infra.application.ports import BadInputError
        from findly_infra.domain.identifiers import actor_problem

        for source, actor in (
            ("--actor", self.args.actor),
            ("FINDLY_ACTOR", os.environ.get("FINDLY_ACTOR")),
            ("GITHUB_ACTOR", os.environ.get("GITHUB_ACTOR")),
        ):
            if actor:
                problem = actor_problem(actor)
                if problem is not None:
                    raise BadInputError(f"{source}: {problem}")
                return str(actor)
        raise BadInputError("who is acting? give --actor NAME, or set FINDLY_ACTOR (GITHUB_ACTOR in Actions)")

    def acting(
        self,
        platform: Platform,
        environment: str,
        *,
        service: str | None = None,
        moves: str | None = None,
        purpose: tuple[str, str] | None = None,
    ) -> tuple[Runtime, str, VerifiedIdentity | None]:
        """The command's runtime, who acts on *environment*, and how it is proven: a name (``--actor``,
        ``FINDLY_ACTOR``, ``GITHUB_ACTOR``) where the policy accepts one; where it asks for verified people, the
        identity a GitHub Actions OIDC token proves — and a name given there is refused (rule ``verified-identity``),
        never used. The policy is the platform file's and the one in force in the state (``domain.policy``): where
        either verifies identities a proof is asked for, and the token is verified as the policy in force says (its
        issuer, audience and keys) — a file that drops ``verified`` does not make a name enough. *moves*: as for
        :meth:`runtime`. *purpose*: the action and the version the token is asked for (``domain.proofs``: the
        token is bound to it, with the service and the environment, and kept with what it proves)."""
        from findly_infra.application.ports import BadInputError
        from findly_infra.domain.policy import EnvironmentPolicy

        env = next((e for e in platform.environments if e.name == environment), None)
        if env is not None and env.identity.verified:  # refused before anything is read or asked for
            self._refuse_names(env.name)
        if env is None:  # an unknown environment is the use case's to name — once the actor given is checked
            actor = self.actor()
            return self.runtime(platform, service=service, moves=moves), actor, None
        runtime = self.runtime(platform, service=service, moves=moves)
        in_force = runtime.service.policy_in_force()
        held = in_force.environment(env.name) if in_force is not None else None
        if held is not None and held.identity.verified and not env.identity.verified:
            # the file drops what the policy in force verifies: the policy in force judges who acts (the use case
            # refuses, rule policy-in-force, whoever it does not accept) — a token where this job can have one
            if self._names() or not os.environ.get("ACTIONS_ID_TOKEN_REQUEST_URL"):
                try:
                    return runtime, self.actor(), None
                except BadInputError:
                    return runtime, "someone", None
            return runtime, *self.proven(platform, held, self._subject(purpose, service, env.name), runtime)
        policy = held if held is not None and held.identity.verified else EnvironmentPolicy.of(platform, env.name)
        if not policy.identity.verified:
            return runtime, self.actor(), None
        return runtime, *self.proven(platform, policy, self._subject(purpose, service, env.name), runtime)

    @staticmethod
    def _subject(purpose: tuple[str, str] | None, service: str | None, environment: str) -> tuple[str, ...]:
        """What a token is bound to: the action, then the service, version and environment it acts on."""
        if purpose is None or service is None:
            return ()
        action, version = purpose
        return action, service, version, environment

    def _names(self) -> list[str]:
        """The names given for who acts (``--actor``, ``FINDLY_ACTOR``), as ``SOURCE=NAME``."""
        return [
            f"{source}={value}"
            for source, value in (("--actor", self.args.actor), ("FINDLY_ACTOR", os.environ.get("FINDLY_ACTOR")))
            if value
        ]

    def _refuse_names(self, environment: str) -> None:
        from findly_infra.application.service import PolicyRefusedError
        from findly_infra.domain.pipeline import Refusal

        given = self._names()
        if given:
            raise PolicyRefusedError(
                Refusal(
                    "verified-identity",
                    f"{environment} takes approvals and promotions only from a verified GitHub identity, and "
                    f"{' and '.join(given)} names someone instead: unset it, and run in a GitHub Actions job with "
                    "`permissions: id-token: write` (the tool asks GitHub who is acting)",
                )
            )

    def proven(
        self,
        platform: Platform,
        policy: EnvironmentPolicy,
        subject: tuple[str, ...] = (),
        runtime: Runtime | None = None,
    ) -> tuple[str, VerifiedIdentity]:
        """Who a token proves, verified as *policy* says (its issuer, audience and keys) — a token asked for the
        purpose *subject* names (the action, then what it acts on: ``domain.proofs.purpose_audience``), and kept in
        the identity."""
        import attrs

        from findly_infra.application.ports import IdentityRefusedError
        from findly_infra.application.service import PolicyRefusedError
        from findly_infra.bootstrap import identity_proof
        from findly_infra.domain.pipeline import Refusal
        from findly_infra.domain.proofs import purpose_audience

        oidc = policy.oidc or platform.github_oidc
        audience = purpose_audience(oidc.audience, subject[0], *subject[1:]) if subject else None
        try:
            sharing = runtime.service.proofs if runtime is not None else None
            identity = identity_proof(attrs.evolve(platform, github_oidc=oidc), sharing=sharing).prove(audience)
        except IdentityRefusedError as exc:
            raise PolicyRefusedError(
                Refusal("verified-identity", f"{policy.environment} takes only verified identities: {exc}")
            ) from None
        return identity.login, identity

    def emit(self, document: Mapping[str, Any], text: str) -> None:
        present.emit(self.out, self.json, document, text)


class Command(NamedTuple):
    """A command of the command line: its name, help, how its arguments are declared, and what it runs."""

    name: str
    help: str
    configure: Any
    """``(parser: argparse.ArgumentParser) -> None``: declares the command's own arguments."""
    run: Any
    """``(context: Context) -> int``: runs it and returns the exit code."""


def strategy_kind(value: str) -> Any:
    """``--strategy``'s type: a ``StrategyKind`` (argparse reports anything else as a usage error)."""
    from findly_infra.domain.environment import StrategyKind

    try:
        return StrategyKind(value)
    except ValueError:
        raise argparse.ArgumentTypeError("expected rolling, blue-green or canary") from None


def checked(problem: Callable[[str], str | None]) -> Callable[[str], str]:
    """An argparse ``type`` that refuses what *problem* finds wrong (a usage error, exit 2, naming the argument)."""

    def check(value: str) -> str:
        found = problem(value)
        if found is not None:
            raise argparse.ArgumentTypeError(found)
        return value

    return check


def version_argument(value: str) -> str:
    """A version: an image tag that is also a label value (``domain.identifiers.version_problem``)."""
    from findly_infra.domain.identifiers import version_problem

    return checked(version_problem)(value)


def reason_argument(value: str) -> str:
    from findly_infra.domain.identifiers import reason_problem

    return checked(reason_problem)(value)


def name_argument(what: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        from findly_infra.domain.identifiers import name_problem

        return checked(lambda text: name_problem(text, what))(value)

    return check


def add_versions_argument(parser: argparse.ArgumentParser, default: str) -> None:
    """``--version SERVICE=VERSION`` (repeatable), into ``args.versions``."""
    parser.add_argument(
        "--version",
        dest="versions",
        action="append",
        default=[],
        metavar="SERVICE=VERSION",
        help=f"the version (image tag) of a service (repeatable; default: {default})",
    )


def service_versions(pairs: list[str], platform: Platform) -> dict[str, str]:
    """``--version`` pairs as {service: version}; a pair that is not SERVICE=VERSION, a version that is not an image
    tag, or an unknown service is bad input, named."""
    from findly_infra.application.ports import BadInputError
    from findly_infra.domain.identifiers import version_problem

    versions: dict[str, str] = {}
    for pair in pairs:
        service, _, version = pair.partition("=")
        if not service or not version:
            raise BadInputError(f"--version takes SERVICE=VERSION, got {pair!r}")
        wrong = version_problem(version)
        if wrong is not None:
            raise BadInputError(f"--version {service}=…: {wrong}")
        versions[platform.service(service).name] = version  # an unknown service is named, exit 2
    return versions
