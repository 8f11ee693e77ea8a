"""``findly-infra policy``: the policy in force — who may approve and promote into each environment, as the state
holds it — and its changes (``policy show``); making the platform file's policy the one in force (``policy adopt``)."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Any

from findly_infra.cli.context import Command, Context
from findly_infra.cli.exits import EXIT_OK

if TYPE_CHECKING:
    from findly_infra.domain.identity import VerifiedIdentity
    from findly_infra.domain.policy import EnvironmentPolicy, PlatformPolicy, PolicyAdopted, PolicyChange

__all__ = ["COMMANDS"]


def _arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="policy_command", metavar="ACTION")
    actions.add_parser(
        "show",
        help="the policy in force per environment, every change of it (who, when, from which run), and what the "
        "platform file would change (the default)",
    )
    actions.add_parser(
        "adopt",
        help="make the platform file's policy the one in force: at once where it only strengthens it; where it "
        "weakens it, only from a run the policy in force accepts (exit 3, rule policy-in-force, otherwise)",
    )


def _policy(context: Context) -> int:
    if context.args.policy_command == "adopt":
        return _adopt(context)
    return _show(context)


def _show(context: Context) -> int:
    from findly_infra.application.policies import policy_digest

    platform = context.platform()
    service = context.runtime(platform, read_only=True).service
    in_force, history, proposed = service.policy_in_force(), service.policy_history(), service.file_policy()
    changes = in_force.changes(proposed) if in_force is not None else ()
    lines: list[str] = []
    if in_force is None:
        lines.append("no policy in force yet: the next writing command adopts the platform file's")
    else:
        latest = history[-1]
        lines.append(f"the policy in force (digest {latest.digest[:16]}, adopted {_when_who(latest)}):")
        lines += [f"  {policy.environment:12} {_describe(policy)}" for policy in in_force.environments]
        lines.append("its changes:")
        lines += [f"  {_when_who(event)}: {_what(event)}" for event in history]
    lines.append(f"the platform file (digest {policy_digest(proposed)[:16]}): {_file_says(in_force, changes)}")
    context.emit(
        {
            "in_force": None if in_force is None else _policy_json(in_force, history[-1].digest),
            "adoptions": [_adoption_json(event) for event in history],
            "file": {
                "digest": policy_digest(proposed),
                "changes": [str(change) for change in changes],
                "weakenings": [str(change) for change in changes if change.weakens],
            },
        },
        "\n".join(lines),
    )
    return EXIT_OK


def _adopt(context: Context) -> int:
    platform = context.platform()
    runtime = context.runtime(platform)
    service = runtime.service
    in_force = service.policy_in_force()
    weakened = (
        [in_force.environment(change.environment) for change in in_force.weakenings(service.file_policy())]
        if in_force is not None
        else []
    )
    proving = next((held for held in weakened if held is not None and held.identity.verified), None)
    actor, identity = _who(context, platform, proving)
    adoption = service.adopt_policy(actor=actor, identity=identity)
    who = identity.describe() if identity is not None else actor
    if adoption.event is None:
        text = "the platform file's policy is the policy in force: nothing recorded"
    else:
        said = "; ".join(adoption.event.changes) or adoption.event.reason
        text = f"{who} adopted the platform file's policy (digest {adoption.event.digest[:16]}): {said}"
    context.emit(
        {
            "adopted": adoption.event is not None,
            "adoption": None if adoption.event is None else _adoption_json(adoption.event),
        },
        text,
    )
    return EXIT_OK


def _who(context: Context, platform: Any, proving: EnvironmentPolicy | None) -> tuple[str, VerifiedIdentity | None]:
    """Who adopts: where the file weakens an environment whose policy in force verifies identities, the identity a
    token proves — verified as that policy says — when this is a job that can ask for one (the policy in force then
    judges it); otherwise the name given (which a verified policy refuses, naming what it accepts)."""
    from findly_infra.application.ports import BadInputError

    if proving is not None and os.environ.get("ACTIONS_ID_TOKEN_REQUEST_URL"):
        return context.proven(platform, proving)
    try:
        return context.actor(), None
    except BadInputError:  # no name at all: the policy in force then says what it would accept
        if proving is None:
            raise
        return "someone", None


def _when_who(event: PolicyAdopted) -> str:
    who = event.identity.describe() if event.identity is not None else event.actor
    return f"{event.at.isoformat()} by {who}"


def _what(event: PolicyAdopted) -> str:
    return "; ".join(event.changes) if event.changes else event.reason


def _file_says(in_force: PlatformPolicy | None, changes: tuple[PolicyChange, ...]) -> str:
    if in_force is None:
        return "adopted by the next writing command"
    if not changes:
        return "the policy in force"
    weakenings = [str(change) for change in changes if change.weakens]
    if not weakenings:
        return f"strengthens it, adopted by the next writing command ({'; '.join(map(str, changes))})"
    return (
        f"weakens it ({'; '.join(weakenings)}): refused (policy-in-force) until adopted from a run the policy in "
        "force accepts: `findly-infra policy adopt` there"
    )


def _describe(policy: EnvironmentPolicy) -> str:
    parts = []
    if policy.approval_required:
        groups = ", ".join(
            f"{group.name} ({', '.join(_member(group, member) for member in group.members) or 'nobody'})"
            for group in policy.groups
        )
        parts.append(f"approvals from {groups}, each lasting {_duration(policy.approval_expires_after)}")
    else:
        parts.append("no approval needed")
    parts.append(f"who acts: {policy.accepts()}")
    if policy.entered_from is not None:
        after = f" with {', '.join(policy.required_tests)} passed" if policy.required_tests else ""
        parts.append(f"entered from {policy.entered_from}{after}")
    return "; ".join(parts)


def _member(group: Any, member: str) -> str:
    known = group.id_of(member)
    return f"{member} #{known}" if known else member


def _duration(milliseconds: int) -> str:
    from findly_infra.domain.notation import Duration

    return Duration(milliseconds).describe()


def _policy_json(policy: PlatformPolicy, digest: str) -> dict[str, Any]:
    import cattrs

    return {"digest": digest, "environments": cattrs.Converter().unstructure(policy)["environments"]}


def _adoption_json(event: PolicyAdopted) -> dict[str, Any]:
    from findly_infra.application.codec import event_to_dict

    body = event_to_dict(event)
    body.pop("policy", None)
    return body


COMMANDS = (
    Command(
        "policy",
        "the policy in force (who may approve and promote where, as the state holds it): `policy show`, and "
        "`policy adopt` to make the platform file's the one in force",
        _arguments,
        _policy,
    ),
)
