"""A stand-in for GitHub's REST pulls API on 127.0.0.1, for the GitOps hand-off's pull request mode: each
``{owner}/{repo}`` a test registers is backed by a local bare Git repository, and a merge is a real ``git`` merge there.

    with GitHubApiStandIn() as github:
        github.register("findly-now", "deploy", "/tmp/deploy.git")
        # POST {github.url}/repos/findly-now/deploy/pulls with "Authorization: Bearer {github.token}"

Written from https://docs.github.com/en/rest/pulls/pulls (create, list, get, merge), each rule cited beside it:

- ``POST /repos/{owner}/{repo}/pulls`` — ``title``, ``head`` (``branch`` or ``owner:branch``), ``base`` (required),
  ``body``, ``draft``: 201 with the pull request (``number``, ``html_url``, ``state: open``, ``head``/``base`` with
  ``ref``, ``sha``, ``label``) and a ``Location`` header; 422 ``Validation Failed`` with GitHub's error objects when a
  pull request is already open for the head (``A pull request already exists for owner:branch.``), when the head has
  no commits beyond the base (``No commits between main and branch``), when the head or base branch does not exist
  (``field: head``/``base``, ``code: invalid``), or a required field is missing (``code: missing_field``).
- ``GET /repos/{owner}/{repo}/pulls`` — ``state`` (``open`` by default, ``closed``, ``all``), ``head``
  (``owner:branch``; a bare branch name is ignored, as GitHub ignores it), ``base``, ``per_page`` (30 by default, at
  most 100) and ``page``; newest first.
- ``GET /repos/{owner}/{repo}/pulls/{number}`` — with ``merged``, ``mergeable``, ``mergeable_state``,
  ``merge_commit_sha`` (``mergeable`` is ``null`` in the create's answer, as GitHub computes it in the background,
  and known on every read after it).
- ``PUT /repos/{owner}/{repo}/pulls/{number}/merge`` — ``merge_method`` (``merge``, ``squash``, ``rebase``),
  ``commit_title``, ``commit_message``, ``sha``: 200 ``{"sha", "merged": true, "message": "Pull Request successfully
  merged"}``; 405 ``Pull Request is not mergeable`` (closed, merged, or conflicting); 409 ``Head branch was modified.
  Review and try the merge again.`` when ``sha`` is not the head; 422 for an unknown ``merge_method``.
- Authentication (https://docs.github.com/en/rest/authentication/authenticating-to-the-rest-api): ``Authorization:
  Bearer TOKEN`` or ``token TOKEN``; a write without a token is 401 ``Requires authentication``, a token that is not
  :attr:`GitHubApiStandIn.tokens`' 401 ``Bad credentials``; an unknown repository — or a private one asked without a
  token — is 404 ``Not Found`` (GitHub does not confirm that a private repository exists: "Troubleshooting the REST
  API", https://docs.github.com/en/rest/using-the-rest-api/troubleshooting-the-rest-api).

What it does not do is listed in ``docs/testing.md``.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import secrets
import subprocess
import tempfile
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["GitHubApiStandIn", "PullRequest"]

_DOCS = "https://docs.github.com/rest/pulls/pulls"
_ROUTE = re.compile(r"^/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/pulls(?:/(?P<number>\d+)(?P<merge>/merge)?)?/?$")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Refused(Exception):  # noqa: N818 - an answer, not a failure of the stand-in
    def __init__(self, status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, dict(body), dict(headers or {})


def _validation(documentation: str, *errors: Mapping[str, Any]) -> _Refused:
    """GitHub's 422: ``Validation Failed`` and its error objects (``resource``, ``field``, ``code``, ``message``),
    https://docs.github.com/en/rest/using-the-rest-api/troubleshooting-the-rest-api ("Validation failed")."""
    return _Refused(
        422,
        {"message": "Validation Failed", "errors": list(errors), "documentation_url": documentation, "status": "422"},
    )


class PullRequest:
    """One pull request as the stand-in holds it."""

    def __init__(self, number: int, owner: str, repo: str, *, head: str, base: str, title: str, body: str) -> None:
        self.number, self.owner, self.repo = number, owner, repo
        self.head, self.base, self.title, self.body = head, base, title, body
        self.state = "open"
        self.draft = False
        self.created_at = self.updated_at = _now()
        self.closed_at: str | None = None
        self.merged_at: str | None = None
        self.merge_commit_sha: str | None = None
        self.head_sha = ""
        self.base_sha = ""
        self.user = "findly-infra"


class _Repository:
    def __init__(self, owner: str, name: str, path: Path, *, private: bool) -> None:
        self.owner, self.name, self.path, self.private = owner, name, path, private

    def git(self, *args: str, check: bool = True, env: Mapping[str, str] | None = None) -> str:
        done = subprocess.run(
            ["git", "--git-dir", str(self.path), *args],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, **(env or {})},
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout.strip() if done.returncode == 0 else ""

    def branch(self, name: str) -> str | None:
        return self.git("rev-parse", "--verify", "--quiet", f"refs/heads/{name}^{{commit}}", check=False) or None


class GitHubApiStandIn:
    """GitHub's pulls API over registered bare repositories. A context manager: serves from ``__enter__`` (or
    :meth:`start`) until ``__exit__`` (or :meth:`stop`)."""

    def __init__(self, *, token: str | None = None, login: str = "findly-infra") -> None:
        """*token*: the token requests must carry (default: a fresh random one, :attr:`token`). *login*: the user
        that token stands for (the pull requests' ``user.login``, a merge's committer)."""
        self.token = token or f"ghp_{secrets.token_hex(18)}"
        self.tokens = {self.token}
        """Every token the stand-in accepts (a test may add or remove some)."""
        self.login = login
        self.repositories: dict[tuple[str, str], _Repository] = {}
        self.pulls: dict[tuple[str, str], dict[int, PullRequest]] = {}
        self.requests: list[tuple[str, str]] = []
        """Every request as (method, path with its query), in order."""
        self._numbers: dict[tuple[str, str], itertools.count[int]] = {}
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # ---- lifecycle -------------------------------------------------------------------------------------------------

    def start(self, port: int = 0) -> str:
        """Serve on *port* of 127.0.0.1 (0: a free one); the base URL (``GITHUB_API_URL``'s place)."""
        stand_in = self

        class Handler(_Handler):
            pass

        Handler.stand_in = stand_in
        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="github-api-stand-in", daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> GitHubApiStandIn:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    # ---- the test's hand -------------------------------------------------------------------------------------------

    def register(self, owner: str, repo: str, path: str | Path, *, private: bool = True) -> None:
        """Serve ``{owner}/{repo}``, backed by the bare repository at *path* (its branches are the pull requests'
        heads and bases; a merge moves the base there)."""
        with self._lock:
            self.repositories[(owner, repo)] = _Repository(owner, repo, Path(path), private=private)
            self.pulls.setdefault((owner, repo), {})
            self._numbers.setdefault((owner, repo), itertools.count(1))

    def pull(self, owner: str, repo: str, number: int) -> dict[str, Any]:
        """The pull request *number* as ``GET …/pulls/{number}`` answers it."""
        with self._lock:
            repository = self.repositories[(owner, repo)]
            return self._render(repository, self.pulls[(owner, repo)][number], detail=True)

    def close(self, owner: str, repo: str, number: int) -> None:
        """Close the pull request unmerged, as a person would on github.com."""
        with self._lock:
            pull = self.pulls[(owner, repo)][number]
            pull.state, pull.closed_at = "closed", _now()

    # ---- the API ---------------------------------------------------------------------------------------------------

    def _authenticated(self, headers: Mapping[str, str], repository: _Repository | None, *, write: bool) -> None:
        value = {name.lower(): text for name, text in headers.items()}.get("authorization", "")
        scheme, _, credential = value.partition(" ")
        if value and (scheme.lower() not in ("bearer", "token") or credential.strip() not in self.tokens):
            raise _Refused(401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})
        if not value and (repository is None or repository.private):
            # a private repository is not confirmed to exist without credentials: 404, not 401
            raise _Refused(404, {"message": "Not Found", "documentation_url": _DOCS})
        if not value and write:
            raise _Refused(401, {"message": "Requires authentication", "documentation_url": _DOCS})
        if repository is None:
            raise _Refused(404, {"message": "Not Found", "documentation_url": _DOCS})

    def handle(  # noqa: PLR0911 - one answer per route
        self, method: str, target: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        """Answer one request: (status, JSON body, extra headers)."""
        parts = urlsplit(target)
        with self._lock:
            self.requests.append((method, target))
            route = _ROUTE.match(parts.path)
            if route is None:
                return 404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}, {}
            key = (route["owner"], route["repo"])
            repository = self.repositories.get(key)
            try:
                self._authenticated(headers, repository, write=method != "GET")
                assert repository is not None
                number = int(route["number"]) if route["number"] else None
                if number is None and method == "POST":
                    return self._create(repository, _json(body))
                if number is None and method == "GET":
                    return 200, self._list(repository, parse_qs(parts.query)), {}
                if number is not None and not route["merge"] and method == "GET":
                    pull = self._find(repository, number)
                    return 200, self._render(repository, pull, detail=True), {}
                if number is not None and route["merge"] and method == "PUT":
                    return self._merge(repository, self._find(repository, number), _json(body))
                if number is not None and route["merge"] and method == "GET":
                    # "Check if a pull request has been merged": 204 if merged, 404 if not
                    merged = self._find(repository, number).merged_at is not None
                    return (204, None, {}) if merged else (404, {"message": "Not Found"}, {})
                return 404, {"message": "Not Found", "documentation_url": _DOCS}, {}
            except _Refused as refused:
                return refused.status, refused.body, refused.headers

    def _find(self, repository: _Repository, number: int) -> PullRequest:
        found = self.pulls[(repository.owner, repository.name)].get(number)
        if found is None:
            raise _Refused(404, {"message": "Not Found", "documentation_url": f"{_DOCS}#get-a-pull-request"})
        return found

    def _head_branch(self, repository: _Repository, head: str) -> str | None:
        """The branch of *head* (``branch`` or ``owner:branch``) in this repository; ``None``: another owner's (a fork
        the stand-in does not serve)."""
        owner, _, branch = head.rpartition(":")
        if owner and owner != repository.owner:
            return None
        return branch

    def _create(self, repository: _Repository, payload: Any) -> tuple[int, Any, dict[str, str]]:
        documentation = f"{_DOCS}#create-a-pull-request"
        if not isinstance(payload, dict):
            raise _Refused(400, {"message": "Problems parsing JSON", "documentation_url": documentation})
        missing = [name for name in ("head", "base") if not isinstance(payload.get(name), str) or not payload[name]]
        if not payload.get("title") and not payload.get("issue"):  # title is required unless issue is given
            missing.insert(0, "title")
        if missing:
            raise _validation(
                documentation, *({"resource": "PullRequest", "code": "missing_field", "field": f} for f in missing)
            )
        head, base = str(payload["head"]), str(payload["base"])
        branch = self._head_branch(repository, head)
        head_sha = repository.branch(branch) if branch else None
        base_sha = repository.branch(base)
        invalid = [
            {"resource": "PullRequest", "field": field, "code": "invalid"}
            for field, sha in (("base", base_sha), ("head", head_sha))
            if sha is None
        ]
        if invalid:
            raise _validation(documentation, *invalid)
        assert branch is not None
        assert head_sha is not None
        assert base_sha is not None
        label = f"{repository.owner}:{branch}"
        for existing in self.pulls[(repository.owner, repository.name)].values():
            # one open pull request per head and base ("A pull request already exists for owner:branch.")
            if existing.state == "open" and existing.head == branch and existing.base == base:
                raise _validation(
                    documentation,
                    {
                        "resource": "PullRequest",
                        "code": "custom",
                        "message": f"A pull request already exists for {label}.",
                    },
                )
        if repository.git("rev-list", "--count", f"{base_sha}..{head_sha}") == "0":
            raise _validation(
                documentation,
                {"resource": "PullRequest", "code": "custom", "message": f"No commits between {base} and {branch}"},
            )
        number = next(self._numbers[(repository.owner, repository.name)])
        pull = PullRequest(
            number,
            repository.owner,
            repository.name,
            head=branch,
            base=base,
            title=str(payload.get("title") or ""),
            body=str(payload.get("body") or ""),
        )
        pull.draft = bool(payload.get("draft"))
        pull.user = self.login
        self.pulls[(repository.owner, repository.name)][number] = pull
        rendered = self._render(repository, pull, detail=True)
        # mergeability is computed in the background: "If the value is null, then GitHub has started a background
        # job to compute the mergeability" (Get a pull request) — the create's answer does not know it yet
        rendered.update({"mergeable": None, "mergeable_state": "unknown"})
        return 201, rendered, {"Location": rendered["url"]}

    def _list(self, repository: _Repository, query: Mapping[str, list[str]]) -> list[dict[str, Any]]:
        state = (query.get("state") or ["open"])[0]
        if state not in ("open", "closed", "all"):
            raise _validation(
                f"{_DOCS}#list-pull-requests", {"resource": "PullRequest", "field": "state", "code": "invalid"}
            )
        head = (query.get("head") or [""])[0]
        base = (query.get("base") or [""])[0]
        per_page = min(max(int((query.get("per_page") or ["30"])[0] or 30), 1), 100)
        page = max(int((query.get("page") or ["1"])[0] or 1), 1)
        chosen = []
        for pull in sorted(self.pulls[(repository.owner, repository.name)].values(), key=lambda p: -p.number):
            if state not in ("all", pull.state):
                continue
            # "user:ref-name" filters; a head without the owner part is ignored — every pull request the other
            # filters keep is listed (hub4j/github-api#538, crowdin/github-action#164, PyGithub/PyGithub#1566)
            if ":" in head:
                owner, _, branch = head.partition(":")
                if (owner, branch) != (pull.owner, pull.head):
                    continue
            if base and pull.base != base:
                continue
            chosen.append(self._render(repository, pull, detail=False))
        return chosen[(page - 1) * per_page : page * per_page]

    def _render(self, repository: _Repository, pull: PullRequest, *, detail: bool) -> dict[str, Any]:
        head_sha = repository.branch(pull.head) if pull.state == "open" else None
        base_sha = repository.branch(pull.base)
        if head_sha:
            pull.head_sha = head_sha
        if base_sha and pull.state == "open":
            pull.base_sha = base_sha
        api = f"{self.url}/repos/{repository.owner}/{repository.name}"
        full = f"{repository.owner}/{repository.name}"
        repo = {
            "name": repository.name,
            "full_name": full,
            "private": repository.private,
            "owner": {"login": repository.owner},
        }
        rendered: dict[str, Any] = {
            "url": f"{api}/pulls/{pull.number}",
            "id": pull.number,
            "number": pull.number,
            "html_url": f"{self.url}/{full}/pull/{pull.number}",
            "state": pull.state,
            "locked": False,
            "title": pull.title,
            "body": pull.body,
            "user": {"login": pull.user},
            "draft": pull.draft,
            "created_at": pull.created_at,
            "updated_at": pull.updated_at,
            "closed_at": pull.closed_at,
            "merged_at": pull.merged_at,
            "merge_commit_sha": pull.merge_commit_sha,
            "head": {"label": f"{pull.owner}:{pull.head}", "ref": pull.head, "sha": pull.head_sha, "repo": repo},
            "base": {"label": f"{pull.owner}:{pull.base}", "ref": pull.base, "sha": pull.base_sha, "repo": repo},
        }
        if detail:  # the single pull request adds these (the list's "pull-request-simple" has none of them)
            mergeable = self._mergeable(repository, pull) if pull.state == "open" else None
            rendered.update(
                {
                    "merged": pull.merged_at is not None,
                    "mergeable": mergeable,
                    "mergeable_state": "unknown" if mergeable is None else ("clean" if mergeable else "dirty"),
                    "merged_by": {"login": self.login} if pull.merged_at else None,
                }
            )
        return rendered

    def _mergeable(self, repository: _Repository, pull: PullRequest) -> bool:
        done = subprocess.run(
            ["git", "--git-dir", str(repository.path), "merge-tree", "--write-tree", pull.base_sha, pull.head_sha],
            capture_output=True,
            text=True,
            check=False,
        )
        return done.returncode == 0

    def _rebased(self, repository: _Repository, pull: PullRequest, who: Mapping[str, str]) -> str:
        """The head's commits cherry-picked onto the base, in a throwaway worktree of the bare repository (the
        authors kept, GitHub the committer); the last one's sha."""
        with tempfile.TemporaryDirectory(prefix="github-rebase-") as folder:
            work = str(Path(folder) / "work")
            repository.git("worktree", "add", "--quiet", "--detach", work, pull.base_sha)
            try:
                commits = repository.git("rev-list", "--reverse", f"{pull.base_sha}..{pull.head_sha}").split()
                subprocess.run(
                    ["git", "-C", work, "cherry-pick", "--allow-empty", "--keep-redundant-commits", *commits],
                    capture_output=True,
                    text=True,
                    check=True,
                    env={**os.environ, **{k: v for k, v in who.items() if k.startswith("GIT_COMMITTER")}},
                )
                return subprocess.run(
                    ["git", "-C", work, "rev-parse", "HEAD"], capture_output=True, text=True, check=True
                ).stdout.strip()
            finally:
                repository.git("worktree", "remove", "--force", work, check=False)
                repository.git("worktree", "prune", check=False)

    def _merge(self, repository: _Repository, pull: PullRequest, payload: Any) -> tuple[int, Any, dict[str, str]]:
        documentation = f"{_DOCS}#merge-a-pull-request"
        payload = payload if isinstance(payload, dict) else {}
        method = str(payload.get("merge_method") or "merge")
        if method not in ("merge", "squash", "rebase"):
            raise _validation(documentation, {"resource": "PullRequest", "field": "merge_method", "code": "invalid"})
        if pull.state != "open":
            raise _Refused(405, {"message": "Pull Request is not mergeable", "documentation_url": documentation})
        self._render(repository, pull, detail=False)  # the head and base as they are now
        if payload.get("sha") and payload["sha"] != pull.head_sha:
            raise _Refused(
                409,
                {
                    "message": "Head branch was modified. Review and try the merge again.",
                    "documentation_url": documentation,
                },
            )
        if not self._mergeable(repository, pull):
            raise _Refused(405, {"message": "Pull Request is not mergeable", "documentation_url": documentation})
        who = {
            "GIT_COMMITTER_NAME": "GitHub",
            "GIT_COMMITTER_EMAIL": "noreply@github.com",
            "GIT_AUTHOR_NAME": self.login,
            "GIT_AUTHOR_EMAIL": f"{self.login}@users.noreply.github.com",
        }
        extra = str(payload.get("commit_message") or "")
        if method == "merge":
            # the merge button's default message: "Merge pull request #N from owner/branch", then the title
            title = str(
                payload.get("commit_title") or f"Merge pull request #{pull.number} from {pull.owner}/{pull.head}"
            )
            message = f"{title}\n\n{extra or pull.title}\n"
            tree = repository.git("merge-tree", "--write-tree", pull.base_sha, pull.head_sha).splitlines()[0]
            sha = repository.git("commit-tree", tree, "-p", pull.base_sha, "-p", pull.head_sha, "-m", message, env=who)
        elif method == "squash":
            # a squash's default title is the pull request's title and its number: "Title (#N)"
            title = str(payload.get("commit_title") or f"{pull.title} (#{pull.number})")
            message = f"{title}\n\n{extra}".rstrip() + "\n"
            tree = repository.git("merge-tree", "--write-tree", pull.base_sha, pull.head_sha).splitlines()[0]
            sha = repository.git("commit-tree", tree, "-p", pull.base_sha, "-m", message, env=who)
        else:  # rebase: each commit of the head replayed on the base (cherry-picked), authors kept
            try:
                sha = self._rebased(repository, pull, who)
            except subprocess.CalledProcessError:  # a commit that does not replay cleanly: not rebaseable
                raise _Refused(
                    405, {"message": "Pull Request is not mergeable", "documentation_url": documentation}
                ) from None
        # the base moves only if it is still where the merge started from (update-ref's old value); a push to it
        # meanwhile is GitHub's 409 "Base branch was modified. Review and try the merge again."
        moved = subprocess.run(
            ["git", "--git-dir", str(repository.path), "update-ref", f"refs/heads/{pull.base}", sha, pull.base_sha],
            capture_output=True,
            check=False,
        )
        if moved.returncode != 0:
            raise _Refused(
                409,
                {
                    "message": "Base branch was modified. Review and try the merge again.",
                    "documentation_url": documentation,
                },
            )
        pull.state, pull.merged_at, pull.merge_commit_sha = "closed", _now(), sha
        pull.closed_at = pull.updated_at = pull.merged_at
        return 200, {"sha": sha, "merged": True, "message": "Pull Request successfully merged"}, {}


def _json(body: bytes) -> Any:
    if not body:
        return {}
    try:
        return json.loads(body)
    except ValueError:
        raise _Refused(
            400, {"message": "Problems parsing JSON", "documentation_url": "https://docs.github.com/rest"}
        ) from None


class _Handler(BaseHTTPRequestHandler):
    stand_in: GitHubApiStandIn

    def log_message(self, *_: Any) -> None:
        return None

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            status, document, headers = self.stand_in.handle(method, self.path, dict(self.headers.items()), body)
        except _Refused as refused:
            status, document, headers = refused.status, refused.body, refused.headers
        except Exception as exc:  # noqa: BLE001 - a stand-in's own failure answers 500, as a server's would
            status, document, headers = 500, {"message": f"{type(exc).__name__}: {exc}"}, {}
        payload = b"" if document is None else json.dumps(document).encode()
        self.send_response(status)
        if document is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_PATCH(self) -> None:
        self._serve("PATCH")
