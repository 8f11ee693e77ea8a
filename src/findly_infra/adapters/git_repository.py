"""The GitOps repository (``gitops:``) through the git command-line tool: a working clone kept in a cache folder,
commits that carry a ``Findly-Change:`` key pushed to the followed branch — or, with ``pull_request: true``, to a
branch of their own proposed in a pull request opened through GitHub's REST API (httpx).

Why the git CLI rather than dulwich: pushes must authenticate as the user's own git does (SSH agents and keys, the
credential helpers of their configuration, ``url.<base>.insteadOf`` rewrites), and a revert and a three-way merge of
a file are git's own (``git revert``, ``git merge-file``); dulwich has neither a revert nor a merge, and would need
its own SSH and credential plumbing. git is a program every GitOps user has; it is checked at :func:`open_repository`.

Every git call takes an argument list (never a shell), a timeout, ``GIT_TERMINAL_PROMPT=0`` and no standard input;
the repository-locating variables of the caller's environment (``GIT_DIR``, ``GIT_INDEX_FILE``… as ``git rev-parse
--local-env-vars`` lists them) are dropped, and what would change what is committed is set on the command line: the
author from ``settings.author``, no signing, no hooks, no line-ending conversion. The user's global configuration is
kept for what it is there for here: reaching the remote (credential helpers, SSH command, ``insteadOf``).

Credentials: a *token* (``GITHUB_TOKEN``) is sent as the ``Authorization`` header GitHub's git endpoint takes
(``basic base64("x-access-token:<token>")``), to the GitHub server only, as actions/checkout does
(src/git-auth-helper.ts: ``http.${serverUrl.origin}/.extraheader``, ``serverUrl`` from ``GITHUB_SERVER_URL``):
only when the repository's origin is *server_url*'s (``https://github.com`` unless told), which must be
``https://`` (``http://`` only on 127.0.0.1, for tests). A repository on another host (GitLab, a Gitea…) never sees
it, and authenticates as the user's git does. The header is scoped to that origin (``http.<origin>/.extraheader``)
and passed through ``GIT_CONFIG_COUNT``/``GIT_CONFIG_KEY_n``/``GIT_CONFIG_VALUE_n`` (git-config(1),
"ENVIRONMENT"): never on a command line other users of the machine can see, never in the cache's ``.git/config`` or
the remote's URL, and redacted from any message. SSH repositories authenticate as the user's git does. A repository
URL that carries a password (``https://user:token@host/…``) is refused: git would keep it in the cache's
``.git/config``.

The cache: one clone per repository URL and branch under *cache_dir*, made on first use (into a temporary folder,
renamed when whole), fetched before every read and change, the working tree reset to ``origin/<branch>`` before a
change is made; a clone that git cannot use (damaged, or another repository's) is removed and cloned again. A lock
file serialises the processes that share a cache (POSIX ``flock``; none where the platform has none); holding it, the
``*.lock`` files a killed git left in the clone are stale and removed. A local git failing unexpectedly is
:class:`DependencyUnavailableError` naming the cache (the clone removed, cloned again by the next command): no
private error leaves a port method.

A change (:meth:`GitCliRepository.commit`) is whole-file texts the caller computed from what :meth:`read` returned.
If the branch moved in between — before the commit, or when the push is refused because another member of the team
pushed first — each file is merged three ways (``git merge-file``: what was read, the caller's text, the file at the
new head) and the commit made again on the new head: a change to other lines (or other files) is kept, and a change
to the same lines raises :class:`BranchMovedError` (a :class:`BadInputError`) naming the files, for the caller to read
again and recompute. The push is tried :data:`PUSH_ATTEMPTS` times.

Idempotence: before each attempt the whole history of the followed branch — and, in pull-request mode, of the
change's own branch — is searched (``git log --grep``) for a commit whose message has the line
``Findly-Change: <key>``: a hand-off killed after its push and before its event was recorded finds its commit
(``created=False``) instead of making a second. A change whose files already say what it would write, with no commit
carrying its key, is refused (:class:`BadInputError`: changed by hand?).

Pull-request mode: the change's branch is named from its key (:func:`pull_request_branch`), pushed, and its open pull
request into the followed branch found (``GET …/pulls?head=owner:branch&base=<branch>``) or opened (``POST …/pulls``,
its body carrying ``Findly-Change: <key>`` as the commit does); ``GitCommit.branch`` is that branch and
``pull_request`` the ``html_url``. Once merged the key is looked for on the followed branch as a line anywhere in the
messages (``branch`` = it, ``pull_request`` = ``None``) — a merge, a rebase, or a squash whose message GitHub made
from the commit (one commit), the list of the commits' messages (several: the key is no longer git's trailer) or the
pull request's body (``squash_merge_commit_message: PR_BODY``) keep it — and, where the message lost it (``BLANK``,
or edited by the person merging), through the API: the newest pull request of the change's branch into the followed
branch, ``merged_at`` set, and its ``merge_commit_sha`` (the squashed commit, or the commit a rebase moved the base
to: https://docs.github.com/en/rest/pulls/pulls#get-a-pull-request). :meth:`~GitCliRepository.includes` follows a
squashed or rebased commit so, and a revert proposes, in a pull request of its own, the revert of that commit of the
followed branch. A pull request not merged yet has nothing on the branch to revert: :class:`BadInputError` (closing
it is the person's). A pull request a person closed without merging is never opened again: the next hand-off of
that key raises :class:`PullRequestClosedError` (its URL), which the GitOps flow reports as refused by a person.

Reverts: ``git revert --no-commit`` and a commit of the caller's message, ``This reverts commit <sha>.`` (as
``git revert`` writes) and the trailer; a revert that conflicts with later changes is :class:`BadInputError` naming
the files, nothing pushed.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import attrs

from findly_infra.application.ports import (
    BadInputError,
    DependencyUnavailableError,
    GitRepository,
    HandOffRefusedError,
)
from findly_infra.application.redaction import header_token, is_loopback, redact_text, redact_url, url_secrets
from findly_infra.domain.gitops import GitChange, GitCommit, GitOpsSettings

__all__ = [
    "GIT_TIMEOUT",
    "HISTORY_SEARCHED",
    "LOCK_WAIT",
    "MINIMUM_GIT",
    "PUSH_ATTEMPTS",
    "TRAILER",
    "BranchMovedError",
    "GitCliRepository",
    "GitHubPulls",
    "PullRequestClosedError",
    "github_repository",
    "open_repository",
    "pull_request_branch",
]

TRAILER = "Findly-Change"
"""The trailer (git-interpret-trailers(1)) that keys a hand-off's commit."""
GIT_TIMEOUT = 120.0
"""Seconds any one git call may take (a clone or a fetch of a large repository included)."""
PUSH_ATTEMPTS = 5
"""Pushes tried when the branch keeps moving under the change, before giving up (exit 5)."""
MINIMUM_GIT = (2, 31)
"""git 2.31 reads configuration from ``GIT_CONFIG_COUNT``/``GIT_CONFIG_KEY_n``/``GIT_CONFIG_VALUE_n``."""
LOCK_WAIT = 600.0
"""Seconds a command waits for another findly-infra process working in the same cache (a hand-off takes a few git
calls of at most :data:`GIT_TIMEOUT` each) before giving up, exit 5."""
HISTORY_SEARCHED = 1000
"""Commits *mentioning* a change's key looked at, newest first (``git log -n`` counts the commits ``--grep`` let
through, git-log(1)): not a window — the key is found at any depth, and each search walks the branch's whole
history (a cost that grows with it, not a horizon)."""

log = logging.getLogger("findly_infra.gitops")
"""Where waiting for another process's hold of the cache is said (a warning, on stderr with the command's logs)."""

_LOCAL_ENV = (
    # `git rev-parse --local-env-vars`: what points git at another repository, index or object store
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_CONFIG",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
    "GIT_OBJECT_DIRECTORY",
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_IMPLICIT_WORK_TREE",
    "GIT_GRAFT_FILE",
    "GIT_INDEX_FILE",
    "GIT_NO_REPLACE_OBJECTS",
    "GIT_REPLACE_REF_BASE",
    "GIT_PREFIX",
    "GIT_INTERNAL_SUPER_PREFIX",
    "GIT_SHALLOW_FILE",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
)
_RACED = re.compile(r"cannot lock ref|failed to update ref|incorrect old value|failed to lock", re.IGNORECASE)
"""A ``[remote rejected]`` reason that is a lost race, not a refusal: another push updated the ref between this
push's ref advertisement and its update — git's receive-pack answers ``failed to update ref`` (and its ref backends
``cannot lock ref '…': is at X but expected Y``, ``incorrect old value``); github.com answers ``cannot lock ref``
(seen in EndBug/add-and-commit#513, ad-m/github-push-action#61). Fetched and tried again, as a non-fast-forward."""
_PROTECTED = re.compile(r"protected branch hook declined|GH006|GH013|rule violations", re.IGNORECASE)
"""GitHub's refusal of a push to a protected branch: ``[remote rejected] … (protected branch hook declined)`` after
``remote: error: GH006: Protected branch update failed`` (branch protection rules,
https://docs.github.com/en/repositories/configuring-branches-and-merges-in-your-repository/managing-protected-branches/about-protected-branches),
or ``(push declined due to repository rule violations)`` after ``GH013: Repository rule violations found`` (rulesets,
https://docs.github.com/en/repositories/configuring-branches-and-merges-in-your-repository/managing-rulesets/troubleshooting-rules)."""
_HEX = re.compile(r"^[0-9a-fA-F]{4,64}$")
_AUTHOR = re.compile(r"^\s*(?P<name>[^<>]*?)\s*<(?P<email>[^<>\s]+)>\s*$")
_GITHUB = (
    re.compile(
        r"^(?:https?|git|ssh)://(?:[^@/]+@)?github\.com(?::\d+)?/(?P<owner>[^/]+)/(?P<repo>[^/]+?)(?:\.git)?/?$"
    ),
    re.compile(r"^(?:[^@/]+@)?github\.com:(?P<owner>[^/]+)/(?P<repo>[^/]+?)(?:\.git)?/?$"),
)


class BranchMovedError(BadInputError):
    """Raised when the followed branch moved since the change was computed and the change no longer applies to it
    (someone changed the same lines of *files*): nothing was pushed; read the files again and recompute."""

    def __init__(self, message: str, files: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.files = files


class PullRequestClosedError(HandOffRefusedError):
    """Raised (pull-request mode) when the change's pull request was closed without being merged: a person refused
    it. Nothing is pushed and no pull request is opened again — the hand-off never overrides a refusal. *url* is the
    pull request's ``html_url``; the command says it refused (exit 3, rule ``pull-request-closed``)."""


class _GitFailedError(Exception):
    """A git call that ended in a non-zero status: its arguments (without secrets), status and standard error."""

    def __init__(self, args: tuple[str, ...], status: int, stderr: str, stdout: str = "") -> None:
        # whole, not cut: a cut secret would escape redaction (the adapter redacts, then cuts: _clean)
        super().__init__(f"git {' '.join(args)}: exit {status}: {stderr.strip()}")
        self.args_ = args
        self.status = status
        self.stderr = stderr
        self.stdout = stdout


# ---- the public entry --------------------------------------------------------------------------------------------


def open_repository(
    settings: GitOpsSettings,
    *,
    cache_dir: Path,
    token: str | None = None,
    api_url: str = "https://api.github.com",
    server_url: str | None = None,
) -> GitRepository:
    """The repository of *settings*, worked on in a clone under *cache_dir* (made on first use). *token*
    (``GITHUB_TOKEN``): sent for the fetches and pushes only to a repository on the GitHub server *server_url*
    (default: ``GITHUB_SERVER_URL``, as Actions sets it, else ``https://github.com``), and to GitHub's API at
    *api_url* for the pull requests. Raises :class:`BadInputError` when git is not installed, when *server_url* is
    not ``https://`` (``http://`` only on 127.0.0.1), when ``pull_request: true`` names a repository that is not on
    GitHub or comes without a token, or when the author is not ``Name <email>``."""
    if shutil.which("git") is None:
        raise BadInputError("the GitOps hand-off needs the git command-line tool, which is not on PATH")
    version = _git_version()
    if version < MINIMUM_GIT:
        raise BadInputError(
            f"the GitOps hand-off needs git {'.'.join(map(str, MINIMUM_GIT))} or later (GIT_CONFIG_COUNT, which "
            f"keeps the token off the command line); this git is {'.'.join(map(str, version))}"
        )
    if token is not None:
        header_token(token, "the GitHub token")
    server_url = server_url or os.environ.get("GITHUB_SERVER_URL") or "https://github.com"
    server = _origin(server_url)
    if server is None or not (server.startswith("https://") or is_loopback(server)):
        raise BadInputError(
            f"the GitHub server {redact_url(server_url)!r} (GITHUB_SERVER_URL) is not an https:// URL: the token is "
            "sent only over https"
        )
    pulls: GitHubPulls | None = None
    if settings.pull_request:
        owner_repo = github_repository(settings.repository)
        if owner_repo is None:
            raise BadInputError(
                f"gitops.pull_request: true opens pull requests through GitHub's API, but gitops.repository "
                f"{redact_url(settings.repository)!r} is not a GitHub repository (https://github.com/<owner>/<repo>, "
                "git@github.com:<owner>/<repo>.git)"
            )
        if not token:
            raise BadInputError(
                "gitops.pull_request: true opens pull requests through GitHub's API, which needs a token: set "
                "GITHUB_TOKEN (permissions contents: write and pull-requests: write)"
            )
        pulls = GitHubPulls(owner=owner_repo[0], repo=owner_repo[1], token=token, api_url=api_url)
    return GitCliRepository(
        settings=settings, cache_dir=Path(cache_dir), token=token, pulls=pulls, server_url=server_url
    )


def github_repository(url: str) -> tuple[str, str] | None:
    """(owner, repository) of a GitHub repository's URL (``https://github.com/o/r(.git)``,
    ``git@github.com:o/r.git``, ``ssh://git@github.com/o/r.git``); ``None``: not one."""
    for pattern in _GITHUB:
        match = pattern.match(url.strip())
        if match:
            return match["owner"], match["repo"]
    return None


def pull_request_branch(key: str) -> str:
    """The branch a pull-request hand-off keyed *key* is pushed to: ``findly/`` and the key, each part kept to the
    characters git-check-ref-format(1) allows anywhere (``fn-posts/production/1.2.3/2026-12-06T21:45:32Z`` ->
    ``findly/fn-posts/production/1.2.3/2026-12-06T21-45-32Z``; ``revert:…`` -> ``findly/revert/…``). The same key
    always names the same branch, so a retried hand-off finds it."""
    revert = key.startswith("revert:")
    body = key.removeprefix("revert:")
    parts = []
    for raw in body.split("/"):
        part = re.sub(r"[^A-Za-z0-9._-]+", "-", raw)
        part = re.sub(r"\.{2,}", ".", part).strip(".-")
        part = part.removesuffix(".lock")
        if part:
            parts.append(part)
    digest = hashlib.sha256(key.encode()).hexdigest()[:8]
    if not parts:
        parts = [digest]
    name = "/".join(["findly", *(["revert"] if revert else []), *parts])
    if len(name) > 200:  # a ref name is a file name on the server's side
        name = f"{name[:190].rstrip('/.-')}-{digest}"
    return name


# ---- GitHub's pulls endpoint -------------------------------------------------------------------------------------


class _RetryableStatusError(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


@attrs.define
class GitHubPulls:
    """Pull requests of *owner*/*repo* through GitHub's REST API (https://docs.github.com/en/rest/pulls/pulls):
    the open one of a branch found (``GET /repos/{owner}/{repo}/pulls?head=owner:branch&state=open``), else one
    opened (``POST /repos/{owner}/{repo}/pulls``). 5xx and transport errors are retried (stamina), then exit 5. A
    rate limit — a 403 or 429 with ``x-ratelimit-remaining: 0`` (primary), a ``retry-after`` header, or a message
    saying "rate limit" (secondary), or any 429 — is waited out as GitHub says (``retry-after`` seconds, else until
    ``x-ratelimit-reset``, else one minute:
    https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api#exceeding-the-rate-limit) while
    the waits stay within *rate_limit_wait* seconds in all, then exit 5 naming when to try again. Other
    401/403/404/422 are bad input (exit 2) saying what to check. The token is never logged nor shown."""

    owner: str
    repo: str
    token: str = attrs.field(repr=False)
    api_url: str = "https://api.github.com"
    attempts: int = 4
    timeout: float = 30.0
    rate_limit_wait: float = 120.0
    """Seconds a command waits out GitHub's rate limits, in all, before giving up (exit 5)."""
    sleep: Callable[[float], None] = attrs.field(default=time.sleep, repr=False)
    clock: Callable[[], float] = attrs.field(default=time.time, repr=False)

    def open_or_find(self, *, head: str, base: str, title: str, body: str) -> str:
        """The ``html_url`` of the open pull request of branch *head* into *base*, opened if there is none."""
        found = self.find_open(head, base)
        if found is not None:
            return found
        status, answer = self._call(
            "POST",
            f"/repos/{self.owner}/{self.repo}/pulls",
            json={"title": title, "head": head, "base": base, "body": body},
        )
        if status == 201 and isinstance(answer, dict) and isinstance(answer.get("html_url"), str):
            return str(answer["html_url"])
        if status == 422:
            # "A pull request already exists for owner:branch." — opened by an attempt whose answer was lost
            found = self.find_open(head, base)
            if found is not None:
                return found
        raise self._refused(status, answer, f"opening a pull request from {head!r} into {base!r}")

    def find_open(self, head: str, base: str | None = None) -> str | None:
        """The ``html_url`` of the open pull request whose head is *head* (a branch of this repository) and, given,
        whose base is *base*."""
        for pull in self._pulls(head, base, state="open"):
            if isinstance(pull.get("html_url"), str):
                return str(pull["html_url"])
        return None

    def newest(self, head: str, base: str) -> dict[str, Any] | None:
        """The newest pull request (any state) of branch *head* into *base*: ``state`` (``open``/``closed``),
        ``merged_at`` (``null``: not merged) and ``merge_commit_sha`` — which, once merged, GitHub documents as
        "the SHA of the squashed commit on the base branch" for a squash and the commit "the base branch was
        updated to" for a rebase (https://docs.github.com/en/rest/pulls/pulls#get-a-pull-request): what follows a
        merge whatever message GitHub composed for it."""
        pulls = self._pulls(head, base, state="all")
        return max(pulls, key=lambda pull: int(pull.get("number") or 0)) if pulls else None

    def _pulls(self, head: str, base: str | None, *, state: str) -> list[dict[str, Any]]:
        """List pull requests (https://docs.github.com/en/rest/pulls/pulls#list-pull-requests): ``head``
        (``user:ref-name``), ``base`` and ``state`` filter — both checked again here on what is answered."""
        params = {"head": f"{self.owner}:{head}", "state": state, "per_page": "100"}
        if base is not None:
            params["base"] = base
        status, answer = self._call("GET", f"/repos/{self.owner}/{self.repo}/pulls", params=params)
        if status != 200 or not isinstance(answer, list):
            raise self._refused(status, answer, f"listing the pull requests of {head!r}")
        return [
            pull
            for pull in answer
            if isinstance(pull, dict) and _ref(pull, "head") == head and (base is None or _ref(pull, "base") == base)
        ]

    def _refused(self, status: int, answer: Any, what: str) -> Exception:
        said = ""
        if isinstance(answer, dict):
            said = str(answer.get("message", ""))
            errors = answer.get("errors")
            if isinstance(errors, list):
                said += "; " + "; ".join(
                    str(error.get("message") or error.get("code")) if isinstance(error, dict) else str(error)
                    for error in errors
                )
        said = redact_text(said, (self.token,))[:500]  # redacted, then cut: a cut secret is no longer found
        where = f"{self.owner}/{self.repo}"
        if status == 401:
            return BadInputError(f"GitHub refused the token {what} in {where}: HTTP 401 (expired or not a token)")
        if status == 403:
            return BadInputError(
                f"GitHub refused {what} in {where}: HTTP 403 {said} (the token needs pull-requests: write and "
                "contents: write on the repository)"
            )
        if status == 404:
            return BadInputError(
                f"GitHub answered 404 {what}: {where} does not exist, or the token cannot see it (a private "
                "repository answers 404 to a token without access)"
            )
        if status == 422:
            return BadInputError(f"GitHub refused {what} in {where}: HTTP 422 {said}")
        return DependencyUnavailableError(f"GitHub answered HTTP {status} {what} in {where}: {said}")

    def _call(
        self, method: str, path: str, *, params: Mapping[str, str] | None = None, json: Any = None
    ) -> tuple[int, Any]:
        import httpx
        import stamina

        headers = {
            # https://docs.github.com/en/rest/using-the-rest-api/getting-started-with-the-rest-api
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "Authorization": f"Bearer {self.token}",
            "User-Agent": "findly-infra",
        }

        @stamina.retry(
            on=(httpx.TransportError, _RetryableStatusError), attempts=self.attempts, wait_initial=0.5, wait_max=10.0
        )
        def call() -> httpx.Response:
            with httpx.Client(
                base_url=self.api_url, headers=headers, timeout=self.timeout, follow_redirects=False
            ) as client:
                response = client.request(method, path, params=params, json=json)
            if response.status_code >= 500:
                raise _RetryableStatusError(response.status_code)
            return response

        waited, limited = 0.0, 0
        while True:
            response = self._attempt(call)
            wait = self._rate_limited(response)
            if wait is None:
                break
            limited += 1
            if waited + wait > self.rate_limit_wait or limited >= self.attempts:
                reset = response.headers.get("x-ratelimit-reset", "")
                when = f"retry after {wait:g} s"
                if reset.isdigit():  # UTC epoch seconds
                    when = f"the limit resets at {datetime.fromtimestamp(int(reset), UTC):%Y-%m-%dT%H:%M:%SZ}"
                raise DependencyUnavailableError(
                    f"GitHub's API at {redact_url(self.api_url)} rate-limits this token (HTTP "
                    f"{response.status_code}; {when}): try again then"
                )
            self.sleep(wait)
            waited += wait
        try:
            answer = response.json() if response.content else None
        except (ValueError, RecursionError):
            answer = None
        return response.status_code, answer

    def _rate_limited(self, response: Any) -> float | None:
        """Seconds to wait before the next request when *response* is a rate limit (``None``: it is not), as
        https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api#exceeding-the-rate-limit
        says: ``retry-after`` if present, else until ``x-ratelimit-reset`` (UTC epoch seconds) when
        ``x-ratelimit-remaining`` is 0, else at least one minute."""
        status = response.status_code
        if status not in (403, 429):
            return None
        headers = response.headers
        retry_after = headers.get("retry-after")
        exhausted = headers.get("x-ratelimit-remaining") == "0"
        if status == 403 and not (retry_after or exhausted or "rate limit" in response.text.lower()):
            return None  # a permission refused
        with contextlib.suppress(ValueError):
            if retry_after:
                return max(0.0, float(retry_after))
            if exhausted and headers.get("x-ratelimit-reset"):
                return max(0.0, float(headers["x-ratelimit-reset"]) - self.clock()) + 1.0
        return 60.0

    def _attempt(self, call: Callable[[], Any]) -> Any:
        import httpx

        try:
            return call()
        except httpx.TransportError as exc:
            raise DependencyUnavailableError(
                f"GitHub's API at {redact_url(self.api_url)} cannot be reached: {type(exc).__name__} "
                f"(after {self.attempts} attempts)"
            ) from None
        except _RetryableStatusError as exc:
            raise DependencyUnavailableError(
                f"GitHub's API at {redact_url(self.api_url)} keeps answering HTTP {exc.status} "
                f"(after {self.attempts} attempts)"
            ) from None


# ---- the repository ------------------------------------------------------------------------------------------------


@attrs.define
class GitCliRepository:
    """:class:`GitRepository` through the git CLI (see the module's docstring)."""

    settings: GitOpsSettings
    cache_dir: Path
    token: str | None = attrs.field(default=None, repr=False)
    pulls: GitHubPulls | None = None
    timeout: float = GIT_TIMEOUT
    lock_wait: float = LOCK_WAIT
    """Seconds a command waits for another process working in the same cache before giving up (exit 5)."""
    server_url: str = "https://github.com"
    """The GitHub server: the only origin *token* is sent to (and only over https, or http on 127.0.0.1)."""
    _read: dict[str, str | None] = attrs.field(factory=dict, init=False)
    """What :meth:`read` returned, by path: the base a later change of that file is merged from."""
    _merges: dict[str, str] = attrs.field(factory=dict, init=False)
    """Pull-request mode: the merge commit of a key's pull request, once GitHub said it (it never changes): asked
    once, however often :meth:`includes` is polled after the merge."""

    def __attrs_post_init__(self) -> None:
        if url_secrets(self.settings.repository):
            # `git clone <url>` records the URL, password included, as remote.origin.url in the clone's .git/config
            # — a cache CI keeps and restores; git-config(1) (transfer.credentialsInUrl) advises against it
            raise BadInputError(
                f"gitops.repository {redact_url(self.settings.repository)!r} carries a password or token, which git "
                "would store in the cache's .git/config: write the URL without it, and give the token as "
                "GITHUB_TOKEN (or through git's credential helper)"
            )

    # ---- the port

    def read(self, path: str) -> str | None:
        path = _checked_path(path)
        with self._locked():
            self._ready()
            text = self._text_at(self._remote_ref(self.settings.branch), path)
        self._read[path] = text
        return text

    def commit(self, change: GitChange) -> GitCommit:
        _checked_key(change.key)
        files = {_checked_path(path): text for path, text in change.files.items()}
        if not files:
            raise BadInputError(f"the change {change.key!r} changes no file")
        with self._locked():
            self._ready()
            head = self._remote_ref(self.settings.branch)
            bases = {path: self._read[path] if path in self._read else self._text_at(head, path) for path in files}

            def make() -> bool:
                merged = self._merged(files, bases)
                for path, text in merged.items():
                    target = self._inside(path)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(text.encode("utf-8"))
                self._git("add", "--", *merged)
                return self._commit_staged(change.message, change.key)

            made = self._hand_off(change.key, change.message, make, what=f"the files {', '.join(sorted(files))}")
        for path, text in files.items():
            if made.branch == self.settings.branch:  # what the caller knows they say now: its next change's base
                self._read[path] = text
            else:  # proposed in a pull request: the branch still says what it said
                self._read.pop(path, None)
        return made

    def _inside(self, path: str) -> Path:
        """Where *path* is written in the clone: refused when any part of it is a symbolic link the repository holds
        (writing would follow it, out of the clone — git keeps a link as mode 120000, and the work tree is the
        branch's)."""
        target = self._work
        for part in path.split("/"):
            target = target / part
            if target.is_symlink():
                raise BadInputError(
                    f"{path!r} goes through {target.relative_to(self._work).as_posix()!r}, a symbolic link in "
                    f"{redact_url(self.settings.repository)}: the hand-off writes only real files and folders"
                )
        return target

    def revert(self, commit: str, *, key: str, message: str) -> GitCommit:
        _checked_key(key)
        if not _HEX.match(commit):
            raise BadInputError(f"{commit!r} is not a commit id")
        with self._locked():
            self._ready()

            def make() -> bool:
                target = self._reverted(commit)
                parents = self._git("rev-list", "--parents", "-n", "1", target).split()[1:]
                mainline = ["-m", "1"] if len(parents) > 1 else []
                try:
                    self._git("revert", "--no-commit", *mainline, target)
                except _GitFailedError as exc:
                    conflicted = sorted(  # `<mode> <object> <stage>\t<path>`, NUL-ended (git-ls-files(1))
                        {entry.split("\t", 1)[1] for entry in self._git("ls-files", "-u", "-z").split("\0") if entry}
                    )
                    with contextlib.suppress(_GitFailedError):
                        self._git("revert", "--abort")
                    if conflicted:
                        raise BadInputError(
                            f"reverting {target[:12]} on {self.settings.branch!r} conflicts with later changes to "
                            f"{', '.join(conflicted)}: revert it by hand"
                        ) from None
                    raise self._failure(exc, f"reverting {target[:12]}") from None
                return self._commit_staged(f"{message.rstrip()}\n\nThis reverts commit {target}.", key)

            return self._hand_off(key, message, make, what=f"the revert of {commit[:12]}")

    def includes(self, revision: str, commit: str) -> bool | None:
        sha = _revision_sha(revision)
        if sha is None or not _HEX.match(commit):
            return None
        with self._locked():
            self._ready(fetch=False)  # a revision already here needs no fetch (the controller is polled)
            if not (self._known(sha) and self._known(commit)):
                self._fetch(all_heads=True)
                if not (self._known(sha) and self._known(commit)):
                    return None
            status = self._git_status("merge-base", "--is-ancestor", commit, sha)
            if status == 0:
                return True
            if status != 1:
                return None
            return self._merged_into(sha, commit)

    def read_at(self, revision: str, path: str) -> str | None:
        path = _checked_path(path)
        sha = _revision_sha(revision)
        if sha is None:
            return None
        with self._locked():
            self._ready(fetch=False)  # a revision already here needs no fetch (the controller is polled)
            if not self._known(sha):
                self._fetch(all_heads=True)
                if not self._known(sha):
                    return None
            return self._text_at(sha, path)

    def _merged_into(self, sha: str, commit: str) -> bool:
        """A pull request merged by squash or rebase: another commit in *sha*'s history, carrying *commit*'s key in
        its message, or known to GitHub as the pull request's merge commit (a squash message that lost the key)."""
        key = self._key_of(commit)
        if key is None:
            return False
        if self._find_in(sha, key) is not None:
            return True
        merged = self._merge_commit(key)
        return merged is not None and self._git_status("merge-base", "--is-ancestor", merged, sha) == 0

    # ---- the hand-off, with its retries

    def _hand_off(self, key: str, message: str, make: Callable[[], bool], *, what: str) -> GitCommit:
        branch = self.settings.branch
        own = pull_request_branch(key) if self.pulls is not None else None
        if own is not None:
            self._fetch_own(own)
        for _attempt in range(PUSH_ATTEMPTS):
            found = self._find_key(key, own)
            if found is not None:
                return found
            self._git("reset", "--quiet", "--hard", self._remote_ref(branch))
            self._git("clean", "-qfdx")
            if not make():
                raise BadInputError(
                    f"nothing to commit for {what}: {branch!r} already holds what it would write, but no commit of "
                    f"its history carries '{TRAILER}: {key}' (changed by hand?)"
                )
            sha = self._git("rev-parse", "HEAD").strip()
            target = own or branch
            if self._push(target):
                pull_request = None
                if self.pulls is not None and own is not None:
                    title, body = _pull_text(message, key)
                    pull_request = self.pulls.open_or_find(head=own, base=branch, title=title, body=body)
                return GitCommit(sha=sha, branch=target, pull_request=pull_request, created=True)
            self._fetch(extra=own)  # refused: the branch moved; fetched, the change is made again on its new head
        raise DependencyUnavailableError(
            f"{(own or branch)!r} of {redact_url(self.settings.repository)} kept moving: {what} could not be pushed "
            f"in {PUSH_ATTEMPTS} attempts"
        )

    def _find_key(self, key: str, own: str | None) -> GitCommit | None:
        branch = self.settings.branch
        sha = self._find_in(self._remote_ref(branch), key)
        if sha is not None:  # on the followed branch (in pull-request mode: the pull request was merged)
            return GitCommit(sha=sha, branch=branch, created=False)
        if own is None or self.pulls is None:
            return None
        pull = self.pulls.newest(own, branch)
        merged = self._merge_sha(pull)
        if merged is not None:  # merged with a message that lost the key (a squash of several commits, BLANK…)
            return GitCommit(sha=merged, branch=branch, created=False)
        if pull is not None and pull.get("state") == "closed" and not pull.get("merged_at"):
            url = str(pull.get("html_url") or f"#{pull.get('number')}")
            raise PullRequestClosedError(
                f"the pull request {url} proposing {key!r} was closed without being merged: a person refused it, "
                "and it is not proposed again (reopen it on GitHub, or start another rollout)",
                url,
            )
        if not self._known(self._remote_ref(own)):
            return None
        sha = self._find_in(self._remote_ref(own), key)
        if sha is None:
            return None
        title, body = _pull_text(self._git("log", "-1", "--format=%B", sha), key)
        pull_request = self.pulls.open_or_find(head=own, base=branch, title=title, body=body)
        return GitCommit(sha=sha, branch=own, pull_request=pull_request, created=False)

    def _merge_commit(self, key: str) -> str | None:
        """Pull-request mode: the commit of the followed branch that merged the pull request of *key*'s branch,
        as GitHub's API knows it (``merge_commit_sha`` of the merged pull request), fetched; ``None``: not merged,
        or not pull-request mode."""
        if self.pulls is None:
            return None
        if key not in self._merges:
            merged = self._merge_sha(self.pulls.newest(pull_request_branch(key), self.settings.branch))
            if merged is None:
                return None
            self._merges[key] = merged
        return self._merges[key]

    def _merge_sha(self, pull: Mapping[str, Any] | None) -> str | None:
        """The ``merge_commit_sha`` of *pull* once merged (``merged_at`` set), fetched; ``None``: not merged."""
        if pull is None or not pull.get("merged_at") or not isinstance(pull.get("merge_commit_sha"), str):
            return None
        sha = str(pull["merge_commit_sha"])
        if not _HEX.match(sha):
            return None
        if not self._known(sha):
            self._fetch()
        return sha if self._known(sha) else None

    def _find_in(self, ref: str, key: str) -> str | None:
        """The newest commit of *ref*'s history with a line ``Findly-Change: <key>`` anywhere in its message — not
        only as a trailer: git's trailer parser reads the last paragraph only (git-interpret-trailers(1)), and
        GitHub's squash of several commits lists their messages one after the other, then ``Co-authored-by:``
        (https://docs.github.com/en/pull-requests/collaborating-with-pull-requests/incorporating-changes-from-a-pull-request/about-pull-request-merges#merge-message-for-a-squash-merge)."""
        log = self._git(
            "log",
            f"-n{HISTORY_SEARCHED}",
            "--fixed-strings",
            f"--grep={TRAILER}: {key}",
            "--format=%H%x1f%B%x1e",
            ref,
            "--",
        )
        for record in log.split("\x1e"):
            sha, _, body = record.strip().partition("\x1f")
            if sha and key in _keys(body):
                return sha
        return None

    def _key_of(self, commit: str) -> str | None:
        keys = _keys(self._git("log", "-1", "--format=%B", commit))
        return keys[-1] if keys else None

    def _reverted(self, commit: str) -> str:
        """The commit of the followed branch a revert of *commit* undoes: *commit* itself, or — a pull request
        merged by squash or rebase — the one on the branch carrying its key."""
        branch = self._remote_ref(self.settings.branch)
        if not self._known(commit):
            self._fetch(all_heads=True)
            if not self._known(commit):
                raise BadInputError(f"commit {commit[:12]} is not in {redact_url(self.settings.repository)}")
        if self._git_status("merge-base", "--is-ancestor", commit, branch) == 0:
            return self._git("rev-parse", f"{commit}^{{commit}}").strip()
        key = self._key_of(commit)
        merged = self._find_in(branch, key) if key else None
        if merged is None and key:
            merged = self._merge_commit(key)
            if merged is not None and self._git_status("merge-base", "--is-ancestor", merged, branch) != 0:
                merged = None
        if merged is None:
            raise BadInputError(
                f"commit {commit[:12]} is not on {self.settings.branch!r} (its pull request not merged?): there is "
                "nothing there to revert"
            )
        return merged

    def _merged(self, files: Mapping[str, str], bases: Mapping[str, str | None]) -> dict[str, str]:
        """Each of *files* (the caller's text, computed from *bases*) merged three ways with the file at HEAD."""
        merged: dict[str, str] = {}
        conflicts = []
        for path, ours in files.items():
            base = bases[path]
            theirs = self._text_at("HEAD", path)
            if theirs in (base, ours):
                merged[path] = ours
                continue
            if base is None or theirs is None:  # added on both sides with other texts, or removed meanwhile
                conflicts.append(path)
                continue
            text, clean = self._merge_file(base, ours, theirs)
            if clean:
                merged[path] = text
            else:
                conflicts.append(path)
        if conflicts:
            raise BranchMovedError(
                f"{', '.join(sorted(conflicts))} changed on {self.settings.branch!r} since it was read, in the lines "
                "this change writes: read it again and recompute the change",
                tuple(sorted(conflicts)),
            )
        return merged

    def _merge_file(self, base: str, ours: str, theirs: str) -> tuple[str, bool]:
        with tempfile.TemporaryDirectory(dir=self._git_dir) as folder:
            names = []
            for name, text in (("ours", ours), ("base", base), ("theirs", theirs)):
                (Path(folder) / name).write_bytes(text.encode("utf-8"))
                names.append(str(Path(folder) / name))
            result = self._run(["merge-file", "-p", "--quiet", *names], check=False)
        return result.stdout.decode("utf-8", "surrogateescape"), result.returncode == 0

    def _commit_staged(self, message: str, key: str) -> bool:
        """Commit what is staged with *message* and the key's trailer; ``False``: nothing is staged."""
        if self._git_status("diff-index", "--quiet", "--cached", "HEAD", "--") == 0:  # plumbing: no external diff
            return False
        text = f"{message.rstrip()}\n\n{TRAILER}: {key}\n"  # git-interpret-trailers(1): the last paragraph
        self._run(["commit", "--quiet", "--no-verify", "--cleanup=whitespace", "-F", "-"], input_=text.encode())
        return True

    # ---- the cache

    @property
    def _folder(self) -> Path:
        digest = hashlib.sha256(f"{self._url}\0{self.settings.branch}".encode()).hexdigest()[:16]
        tail = re.sub(r"[^A-Za-z0-9._-]+", "-", self.settings.repository.rstrip("/").rsplit("/", 1)[-1])[-40:]
        return self.cache_dir / f"{tail.strip('.-') or 'repository'}-{digest}"

    @property
    def _url(self) -> str:
        """The remote as git is given it: a URL or ``host:path`` as written, a local path made absolute (relative
        to the current directory) — git records a local clone's origin so, and the clone is made in another
        folder."""
        return _remote_url(self.settings.repository)

    @property
    def _work(self) -> Path:
        return self._folder / "work"

    @property
    def _git_dir(self) -> Path:
        return self._work / ".git"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self._folder.mkdir(parents=True, exist_ok=True)
        try:
            import fcntl
        except ImportError:  # no flock here (Windows): one process at a time is the user's to keep
            with self._guarded():
                yield
            return
        with (self._folder / "lock").open("a") as lock:
            self._wait_for(lock, fcntl)
            try:
                self._recover()
                with self._guarded():
                    yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _wait_for(self, lock: Any, fcntl: Any) -> None:
        """The cache's lock taken: at once, or — another findly-infra process works in this cache — said once (a
        warning) and waited for, polled, for :attr:`lock_wait` seconds at most (then exit 5, naming the cache)."""
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        log.warning(
            "gitops.cache_busy: waiting for another findly-infra process working in %s (at most %g s)",
            self._folder,
            self.lock_wait,
        )
        deadline = time.monotonic() + self.lock_wait
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise DependencyUnavailableError(
                        f"another findly-infra process has been working in the GitOps cache {self._folder} for "
                        f"{self.lock_wait:g} s: gave up waiting for it (try again when it is done)"
                    ) from None
                time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))

    def _recover(self) -> None:
        """What a git killed in this cache left (SIGKILL, a runner cancelled), removed under the lock — so no git of
        this adapter is running in the clone: the staging folders of a clone killed half-way (``clone-*``), and the
        lock files, stale: ``index.lock``, ``HEAD.lock``,
        ``ORIG_HEAD.lock``, ``packed-refs.lock``, ``config.lock``, ``refs/**/*.lock`` (git's lockfile API creates
        ``<file>.lock`` and renames it over ``<file>``; a leftover makes every later write fail with "Unable to
        create '….lock': File exists", git's api-lockfile documentation)."""
        for staging in self._folder.glob("clone-*"):  # a clone killed before it was whole (_clone's staging)
            shutil.rmtree(staging, ignore_errors=True)
        if not self._git_dir.is_dir():
            return
        stale = [*self._git_dir.glob("*.lock")]
        for folder in ("refs", "logs"):
            if (self._git_dir / folder).is_dir():
                stale += [path for path in (self._git_dir / folder).rglob("*.lock") if path.is_file()]
        for path in stale:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    @contextlib.contextmanager
    def _guarded(self) -> Iterator[None]:
        """No private error leaves a port method: a local git that failed unexpectedly means a clone git cannot
        work in — removed (it is a cache: the next command clones again), and said as exit 5."""
        try:
            yield
        except _GitFailedError as exc:
            shutil.rmtree(self._work, ignore_errors=True)
            raise DependencyUnavailableError(
                f"git failed in the cache at {self._folder}: {self._clean(str(exc))} (the clone was removed: the next "
                "command clones it again)"
            ) from None

    def _ready(self, *, fetch: bool = True) -> None:
        """The clone, fetched: made when missing, made again when git cannot use the one there."""
        if self._usable():
            try:
                if fetch:
                    self._fetch()
                return
            except (BadInputError, DependencyUnavailableError):
                pass  # the remote's failure or the clone's: a fresh clone tells which
        self._clone()
        self._fetch()

    def _usable(self) -> bool:
        if not (self._git_dir / "HEAD").is_file():
            return False
        try:
            url = self._git("config", "--get", "remote.origin.url").strip()
            self._git("rev-parse", "--verify", "--quiet", "HEAD^{commit}")
            self._git("status", "--porcelain")
        except _GitFailedError:
            return False
        return url == self._url

    def _clone(self) -> None:
        """A fresh clone, made beside the old one and put in its place only when whole: a remote that cannot be
        reached leaves the old clone as it was."""
        staging = Path(tempfile.mkdtemp(prefix="clone-", dir=self._folder))
        try:
            self._run(
                [
                    "clone",
                    "--quiet",
                    "--no-tags",
                    "--origin",
                    "origin",
                    "--branch",
                    self.settings.branch,
                    self._url,
                    "work",
                ],
                cwd=staging,
                remote=True,
                what=f"cloning {self.settings.branch!r}",
            )
            if self._work.exists():
                shutil.rmtree(self._work)
            (staging / "work").rename(self._work)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _fetch(self, *, all_heads: bool = False, extra: str | None = None) -> None:
        branch = self.settings.branch
        refspecs = [f"+refs/heads/{branch}:refs/remotes/origin/{branch}"]
        if all_heads:
            refspecs = ["+refs/heads/*:refs/remotes/origin/*"]
        self._run(
            ["fetch", "--quiet", "--no-tags", "--prune", "origin", *refspecs],
            remote=True,
            what=f"fetching {branch!r}",
        )
        if extra is not None:
            self._fetch_own(extra)

    def _fetch_own(self, own: str) -> None:
        """The change's own branch (pull-request mode), when the remote has it."""
        listed = self._run(["ls-remote", "--heads", "origin", f"refs/heads/{own}"], remote=True, what="listing")
        if listed.stdout.strip():
            self._run(
                ["fetch", "--quiet", "--no-tags", "origin", f"+refs/heads/{own}:refs/remotes/origin/{own}"],
                remote=True,
                what=f"fetching {own!r}",
            )
        else:
            with contextlib.suppress(_GitFailedError):
                self._git("update-ref", "-d", f"refs/remotes/origin/{own}")

    def _push(self, target: str) -> bool:
        """Push HEAD to *target*: ``True`` when taken, ``False`` when refused because *target* moved."""
        result = self._run(
            ["push", "--porcelain", "origin", f"HEAD:refs/heads/{target}"],
            remote=True,
            check=False,
            what=f"pushing to {target!r}",
        )
        said = result.stdout.decode("utf-8", "replace")
        if result.returncode == 0:
            return True
        for line in said.splitlines():
            if line.startswith("!") and "[rejected]" in line:
                return False  # (fetch first) / (non-fast-forward): someone pushed first
            if line.startswith("!") and "[remote rejected]" in line:
                reason = line.split("[remote rejected]", 1)[1].strip()
                if _RACED.search(reason):
                    return False  # another push updated the ref inside the server meanwhile: the branch moved
                advice = ""
                if _PROTECTED.search(reason) and self.pulls is None:
                    advice = " (a protected branch: set gitops.pull_request: true to propose the change instead)"
                raise BadInputError(
                    f"{redact_url(self.settings.repository)} refused the push to {target!r}: {self._clean(reason)}"
                    f"{advice}"
                )
        raise self._failure(
            _GitFailedError(("push",), result.returncode, result.stderr.decode("utf-8", "replace")), "pushing"
        )

    def _remote_ref(self, branch: str) -> str:
        return f"refs/remotes/origin/{branch}"

    def _known(self, revision: str) -> bool:
        return self._git_status("rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}") == 0

    def _text_at(self, revision: str, path: str) -> str | None:
        if self._git_status("rev-parse", "--verify", "--quiet", f"{revision}:{path}") != 0:
            return None
        kind = self._git("cat-file", "-t", f"{revision}:{path}").strip()
        if kind != "blob":
            raise BadInputError(f"{path} is a folder in {redact_url(self.settings.repository)}, not a file")
        data = self._run(["cat-file", "blob", f"{revision}:{path}"]).stdout
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise BadInputError(f"{path} in {redact_url(self.settings.repository)} is not UTF-8 text") from None

    # ---- running git

    def _git(self, *args: str) -> str:
        return self._run(list(args)).stdout.decode("utf-8", "replace")

    def _git_status(self, *args: str) -> int:
        return self._run(list(args), check=False).returncode

    def _run(
        self,
        args: list[str],
        *,
        cwd: Path | None = None,
        input_: bytes | None = None,
        check: bool = True,
        remote: bool = False,
        what: str = "",
    ) -> subprocess.CompletedProcess[bytes]:
        name, email = _author(self.settings.author)
        command = [
            "git",
            "-c",
            f"user.name={name}",
            "-c",
            f"user.email={email}",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "core.autocrlf=false",
            "-c",
            "core.hooksPath=/dev/null",
            "-c",
            "core.fsmonitor=false",
            "-c",
            "gc.autoDetach=false",
            "-c",
            "advice.detachedHead=false",
            # what would change the output parsed here or sign what is pushed
            "-c",
            "color.ui=false",
            "-c",
            "log.showSignature=false",
            "-c",
            "push.gpgSign=false",
            "-c",
            "i18n.logOutputEncoding=UTF-8",
            *args,
        ]
        # its own session: a call that outlives its timeout is killed with the helpers it started (git-remote-https,
        # ssh), which would otherwise hold the connection
        process = subprocess.Popen(
            command,
            cwd=cwd or self._work,
            stdin=subprocess.PIPE if input_ is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self._environment(),
            start_new_session=True,
        )
        try:
            stdout, stderr = process.communicate(input_, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            _kill(process)
            raise DependencyUnavailableError(
                f"git {args[0]} ({what or 'on the GitOps repository'}) took longer than {self.timeout:g} s"
            ) from None
        except BaseException:
            _kill(process)
            raise
        result = subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
        if check and result.returncode != 0:
            failed = _GitFailedError(
                tuple(args),
                result.returncode,
                result.stderr.decode("utf-8", "replace"),
                result.stdout.decode("utf-8", "replace"),
            )
            if remote:
                raise self._failure(failed, what)
            raise failed
        return result

    def _environment(self) -> dict[str, str]:
        environ = {key: value for key, value in os.environ.items() if key not in _LOCAL_ENV}
        environ.update({"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", "LANGUAGE": "C"})
        # the commit's identity is settings.author: the environment is what git takes before any configuration,
        # author.*/committer.* included (git-commit(1) "COMMIT INFORMATION", git-config(1) author.name)
        name, email = _author(self.settings.author)
        environ.update(
            {
                "GIT_AUTHOR_NAME": name,
                "GIT_AUTHOR_EMAIL": email,
                "GIT_COMMITTER_NAME": name,
                "GIT_COMMITTER_EMAIL": email,
            }
        )
        settings: list[tuple[str, str]] = []
        scope = self._token_scope()
        if self.token and scope is not None:
            pair = base64.b64encode(f"x-access-token:{self.token}".encode()).decode()
            # an empty value first: http.extraHeader is multi-valued, and "an empty value will reset the extra
            # headers to the empty list" (git-config(1)) — an Authorization header of the user's configuration for
            # the host would otherwise go too, which GitHub answers 400 "Duplicate header: Authorization"
            settings.append((f"http.{scope}.extraheader", ""))
            settings.append((f"http.{scope}.extraheader", f"AUTHORIZATION: basic {pair}"))
        environ["GIT_CONFIG_COUNT"] = str(len(settings))
        for index, (key, value) in enumerate(settings):
            environ[f"GIT_CONFIG_KEY_{index}"] = key
            environ[f"GIT_CONFIG_VALUE_{index}"] = value
        return environ

    def _token_scope(self) -> str | None:
        """``<origin>/`` of the GitHub server when the repository is on it, over https (or http on 127.0.0.1):
        where the token's header goes; ``None``: nowhere (another host, plain http, ssh, a path)."""
        server = _origin(self.server_url)
        if server is None or _origin(self.settings.repository) != server:
            return None
        if not (server.startswith("https://") or is_loopback(server)):
            return None
        return f"{server}/"

    def _clean(self, text: str) -> str:
        secrets: list[str | None] = [self.token, *url_secrets(self.settings.repository)]
        if self.token:
            secrets.append(base64.b64encode(f"x-access-token:{self.token}".encode()).decode())
        return redact_text(text.strip(), secrets)[:500]  # redacted, then cut: a cut secret is no longer found

    def _failure(self, failed: _GitFailedError, what: str) -> Exception:
        """A failed remote call as the person's error: refused credentials or a missing branch are bad input (exit
        2), an unreachable remote exit 5 — each naming the repository (its password, if any, redacted)."""
        said = self._clean(failed.stderr)
        where = redact_url(self.settings.repository)
        lowered = said.lower()
        if ("remote branch" in lowered and "not found" in lowered) or "couldn't find remote ref" in lowered:
            return BadInputError(f"{where} has no branch {self.settings.branch!r} (gitops.branch): {said}")
        if any(
            sign in lowered
            for sign in (
                "authentication failed",
                "permission denied",
                "could not read username",
                "could not read password",
                "terminal prompts disabled",
                # git-remote-http's own phrase for an HTTP status (http.c): not any "401"/"403" in a port or a time
                "the requested url returned error: 401",
                "the requested url returned error: 403",
                "repository not found",
                "does not appear to be a git repository",
            )
        ):
            return BadInputError(
                f"{where} refused {what or 'git'}: {said} (check gitops.repository and the credentials: "
                "GITHUB_TOKEN for https, the SSH key for ssh)"
            )
        return DependencyUnavailableError(f"{where} cannot be reached ({what or 'git'}): {said}")


# ---- helpers -------------------------------------------------------------------------------------------------------


def _author(author: str) -> tuple[str, str]:
    match = _AUTHOR.match(author)
    if match is None or not match["name"]:
        raise BadInputError(f"gitops.author {author!r} is not 'Name <email>'")
    return match["name"], match["email"]


def _git_version() -> tuple[int, int]:
    """(major, minor) of the git on PATH (``git version 2.39.5``, ``… (Apple Git-145)``, ``2.42.0.windows.2``)."""
    try:
        said = subprocess.run(
            ["git", "--version"], capture_output=True, text=True, timeout=30, check=False, stdin=subprocess.DEVNULL
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        said = ""
    match = re.search(r"(\d+)\.(\d+)", said)
    if match is None:
        raise BadInputError(f"`git --version` said {said.strip()[:100]!r}: not a git this can use")
    return int(match[1]), int(match[2])


def _kill(process: subprocess.Popen[bytes]) -> None:
    """*process* and its session's processes, killed and reaped."""
    try:
        import signal

        os.killpg(process.pid, signal.SIGKILL)
    except (AttributeError, ProcessLookupError, PermissionError):  # no process groups here (Windows), or gone
        process.kill()
    process.communicate()


def _remote_url(repository: str) -> str:
    if "://" in repository or re.match(r"^[^/]+:", repository):  # a URL, or scp-like `host:path` (git-clone(1))
        return repository
    return str(Path(repository).expanduser().resolve())


def _origin(url: str) -> str | None:
    """``scheme://host[:port]`` of an http(s) URL, normalised (lower case, the scheme's default port dropped), as
    actions/checkout compares origins; ``None``: not an http(s) URL."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or not parts.hostname:
        return None
    default = 443 if scheme == "https" else 80
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{scheme}://{host}{f':{port}' if port and port != default else ''}"


def _revision_sha(revision: str) -> str | None:
    """The commit id in what a controller reports: ``<sha>`` (Argo CD), ``main@sha1:<sha>`` or ``sha1:<sha>``
    (Flux's ``lastAppliedRevision``); ``None``: none."""
    tail = revision.strip().rsplit("@", 1)[-1]
    tail = tail.split(":", 1)[1] if ":" in tail else tail
    return tail if _HEX.match(tail) else None


def _keys(message: str) -> list[str]:
    """The ``Findly-Change`` keys of *message*: each line ``Findly-Change: <key>``, wherever it is."""
    prefix = f"{TRAILER}:"
    return [line[len(prefix) :].strip() for line in message.splitlines() if line.startswith(prefix)]


def _pull_text(message: str, key: str) -> tuple[str, str]:
    """A pull request's title and body from a commit's *message*: the body keeps ``Findly-Change: <key>``, so that a
    squash merge whose message is the pull request's body (``squash_merge_commit_message: PR_BODY``,
    https://docs.github.com/en/rest/repos/repos#update-a-repository) keeps the key too."""
    title, _, body = message.strip().partition("\n")
    body = body.strip()
    if key not in _keys(body):
        body = f"{body}\n\n{TRAILER}: {key}".strip()
    return title, body


def _ref(pull: Mapping[str, Any], side: str) -> str | None:
    """``head.ref``/``base.ref`` of a pull request as GitHub's API answers it."""
    part = pull.get(side)
    return str(part["ref"]) if isinstance(part, dict) and isinstance(part.get("ref"), str) else None


def _checked_path(path: str) -> str:
    parts = path.split("/")
    if not path or path.startswith("/") or "\\" in path or any(part in ("", ".", "..") for part in parts):
        raise BadInputError(f"{path!r} is not a file's path inside the repository")
    if parts[0] == ".git":
        raise BadInputError(f"{path!r} is inside git's own folder")
    return path


def _checked_key(key: str) -> None:
    if not key.strip() or any(char in key for char in "\n\r\x1e\x1f"):
        raise BadInputError(f"{key!r} cannot be a {TRAILER} key (one line, not empty)")
