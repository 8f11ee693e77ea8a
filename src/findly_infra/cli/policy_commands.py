"""``findly-infra policy``: the policy in force — who may approve and promote into each environment, as the state
holds it — and its changes (``policy show``); making the platform file's policy the one in force (``policy adopt``)."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Any

from findly_infra.cli import present
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
        help="make the platform file's policy the one in force: at once where it changes nothing the policy in force "
        "guards; a weakening, or any change of an environment that verifies identities, only from a run the policy "
        "in force accepts, with a token bound to this policy (exit 3, rule policy-in-force, otherwise)",
    )
    actions.add_parser(
        "anchor",
        help="as the state database's owner: make the platform file's policy the one in force and anchor it where only "
        "the owner may write — it then stands whatever the policy stream held, and only the owner turns verified "
        "identities on where names were trusted (the recovery when a proof can no longer be checked)",
    )


def _policy(context: Context) -> int:
    if context.args.policy_command == "adopt":
        return _adopt(context)
    if context.args.policy_command == "anchor":
        return _anchor(context)
    return _show(context)


def _anchor(context: Context) -> int:
    platform = context.platform()
    service = context.runtime(platform).service
    anchor = service.anchor_policy(actor=context.actor())
    text = (
        f"{anchor.by} anchored the policy in force: _policy@{anchor.position}={anchor.link} (digest "
        f"{service.proposal()[1][:16]}); from now on only the state's owner turns verified identities on where names "
        "were trusted"
    )
    context.emit({"anchor": {"position": anchor.position, "link": anchor.link, "by": anchor.by}}, text)
    return EXIT_OK


def _show(context: Context) -> int:
    from findly_infra.application.policies import policy_digest

    platform = context.platform()
    service = context.runtime(platform, read_only=True).service
    reading, history, proposed = service.policy_reading(), service.policy_history(), service.file_policy()
    in_force = reading.in_force
    changes = in_force.changes(proposed) if in_force is not None else ()
    damage = dict(reading.damage)
    lines: list[str] = []
    if in_force is None or reading.position is None:
        lines.append("no policy in force yet: the next writing command adopts the platform file's")
    else:
        held = history[reading.position]
        anchored = " — anchored by the state's owner" if reading.anchored == reading.position else ""
        lines.append(f"the policy in force (digest {held.digest[:16]}, adopted {_when_who(held)}{anchored}):")
        lines += [f"  {policy.environment:12} {_describe(policy)}" for policy in in_force.environments]
        lines.append("its changes:")
        lines += [
            f"  {_when_who(event)}: {_what(event)}"
            + (f"  [NOT IN FORCE: {damage[index]}]" if index in damage else "")
            + ("  [anchored]" if index == reading.anchored else "")
            for index, event in enumerate(history)
        ]
    lines += [f"taken on trust: {said}" for said in reading.trusted]
    lines += [f"frozen: {name}: {why}" for name, why in reading.frozen.items()]
    lines += [f"damage: _policy@{index}: {why}" for index, why in reading.damage]
    lines.append(f"the platform file (digest {policy_digest(proposed)[:16]}): {_file_says(in_force, changes)}")
    context.emit(
        {
            "in_force": None
            if in_force is None or reading.position is None
            else _policy_json(in_force, history[reading.position].digest),
            "position": reading.position,
            "adoptions": [
                {**_adoption_json(event), "in_force": index not in damage} for index, event in enumerate(history)
            ],
            "damage": [{"position": index, "problem": why} for index, why in reading.damage],
            "frozen": dict(reading.frozen),
            "trusted_on_first_use": list(reading.trusted),
            "anchored": reading.anchored,
            "file": {
                "digest": policy_digest(proposed),
                "changes": [str(change) for change in changes],
                "weakenings": [str(change) for change in changes if change.weakens],
                "guarded": [str(change) for change in changes if change.guarded],
            },
        },
        "\n".join(lines),
    )
    if reading.damage:
        present.annotate("error", f"the policy stream holds adoptions that are not in force: {reading.damage[0][1]}")
    return EXIT_OK


def _adopt(context: Context) -> int:
    platform = context.platform()
    runtime = context.runtime(platform)
    service = runtime.service
    in_force = service.policy_in_force()
    proposed, digest = service.proposal()
    guarded = (  # the environments whose policy in force guards a change of the file's: it judges who adopts
        [in_force.environment(change.environment) for change in in_force.changes(proposed) if change.guarded]
        if in_force is not None
        else []
    )
    proving = next((held for held in guarded if held is not None and held.identity.verified), None)
    actor, identity = _who(context, platform, proving, digest, runtime)
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


def _who(
    context: Context, platform: Any, proving: EnvironmentPolicy | None, digest: str, runtime: Any
) -> tuple[str, VerifiedIdentity | None]:
    """Who adopts: where the file changes what an environment's policy in force verifying identities guards, the
    identity a token proves — a token asked for adopting this policy (bound to its *digest*), verified as that policy
    says — when this is a job that can ask for one (the policy in force then judges it); otherwise the name given
    (which a verified policy refuses, naming what it accepts)."""
    from findly_infra.application.ports import BadInputError

    if proving is not None and os.environ.get("ACTIONS_ID_TOKEN_REQUEST_URL"):
        return context.proven(platform, proving, ("adopt", digest), runtime)
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
    guarded = [str(change) for change in changes if change.guarded]
    if not guarded:
        return f"strengthens it, adopted by the next writing command ({'; '.join(map(str, changes))})"
    return (
        f"changes what the policy in force guards ({'; '.join(guarded)}): commands in those environments are refused "
        "(policy-in-force) until it is adopted from a run the policy in force accepts: `findly-infra policy adopt` "
        "there"
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
    from findly_infra.application.codec import event_shown

    body = event_shown(event)
    body.pop("policy", None)
    return body


COMMANDS = (
    Command(
        "policy",
        "the policy in force (who may approve and promote where, as the state holds it): `policy show`, "
        "`policy adopt` to make the platform file's the one in force, `policy anchor` (the database owner) to "
        "anchor it",
        _arguments,
        _policy,
    ),
)
