"""The GitOps repository adapter (``adapters.git_repository``) against real git: a bare repository in a temporary
folder, reached by a ``file://`` URL, and other clones of it playing the other members of the team. Pull-request
mode talks to a small loopback stand-in of GitHub's pulls endpoint, written below from GitHub's REST documentation
(https://docs.github.com/en/rest/pulls/pulls) — to be replaced by ``findly_infra.testing.github_api`` once it lands.
"""

from __future__ import annotations

import base64
import json
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from findly_infra.adapters import git_repository
from findly_infra.adapters.git_repository import (
    BranchMovedError,
    GitCliRepository,
    PullRequestClosedError,
    github_repository,
    open_repository,
    pull_request_branch,
)
from findly_infra.application.ports import BadInputError, DependencyUnavailableError
from findly_infra.domain.gitops import (
    GitChange,
    GitCommit,
    GitOpsBinding,
    GitOpsSettings,
    change_key,
    overlay_path,
    set_image,
)

IMAGE = "europe-west1-docker.pkg.dev/findly/apps/fn-posts"
DEPLOYMENT = f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: fn-posts
spec:
  replicas: 3
  template:
    spec:
      containers:
        - name: app
          image: "{IMAGE}:1.2.3"  # set by findly-infra
"""
OTHER = "k8s/overlays/production/fn-users/deployment-stable.yaml"
STARTED = "2026-12-06T21:45:32Z"


def git(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=Someone", "-c", "user.email=someone@example.com", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout


@pytest.fixture(autouse=True)
def global_git_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No configuration of this machine's user or system: a global file of the test's own."""
    config = tmp_path / "gitconfig"
    config.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    return config


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    """A bare repository whose ``main`` holds the rendered tree of two services."""
    bare = tmp_path / "deploy.git"
    git("init", "--quiet", "--bare", "--initial-branch=main", str(bare))
    seed = tmp_path / "seed"
    git("clone", "--quiet", bare.as_uri(), str(seed))
    for path, text in ((PATH, DEPLOYMENT), (OTHER, DEPLOYMENT.replace("fn-posts", "fn-users"))):
        (seed / path).parent.mkdir(parents=True, exist_ok=True)
        (seed / path).write_text(text)
    git("add", ".", cwd=seed)
    git("commit", "--quiet", "-m", "render", cwd=seed)
    git("push", "--quiet", "origin", "HEAD:main", cwd=seed)
    return bare


def gitops(repository: str, **changes: Any) -> GitOpsSettings:
    return GitOpsSettings(
        repository=repository, environments=(GitOpsBinding("production", "findly-production"),), **changes
    )


SETTINGS = gitops("x")
PATH = overlay_path(SETTINGS, "production", "fn-posts")


def promotion(text: str, version: str = "1.2.4", started: str = STARTED) -> GitChange:
    changed, _ = set_image(text, IMAGE, version)
    return GitChange(
        files={PATH: changed},
        message=f"fn-posts {version} to production",
        key=change_key("fn-posts", "production", version, started),
    )


def other_member(remote: Path, tmp_path: Path, path: str, edit: Any) -> str:
    """Another member of the team pushes a change of *path* to main (their own clone): the new head."""
    clone = tmp_path / f"member-{len(list(tmp_path.glob('member-*')))}"
    git("clone", "--quiet", remote.as_uri(), str(clone))
    target = clone / path
    target.write_text(edit(target.read_text()))
    git("commit", "--quiet", "-am", "by hand", cwd=clone)
    git("push", "--quiet", "origin", "HEAD:main", cwd=clone)
    return git("rev-parse", "HEAD", cwd=clone).strip()


def head(remote: Path, branch: str = "main") -> str:
    return git("--git-dir", str(remote), "rev-parse", branch).strip()


def shown(remote: Path, revision: str, path: str) -> str:
    return git("--git-dir", str(remote), "show", f"{revision}:{path}")


def count(remote: Path, branch: str = "main") -> int:
    return int(git("--git-dir", str(remote), "rev-list", "--count", branch))


# ---- commits -----------------------------------------------------------------------------------------------------


def test_a_commit_is_pushed_with_its_key_and_read_back(remote: Path, tmp_path: Path) -> None:
    repository = open_repository(gitops(remote.as_uri()), cache_dir=tmp_path / "cache")
    text = repository.read(PATH)
    assert text == DEPLOYMENT
    assert repository.read("k8s/overlays/production/fn-none/deployment-stable.yaml") is None

    made = repository.commit(promotion(text))

    assert made.created
    assert made.branch == "main"
    assert made.pull_request is None
    assert head(remote) == made.sha
    assert shown(remote, "main", PATH) == set_image(DEPLOYMENT, IMAGE, "1.2.4")[0]
    assert shown(remote, "main", OTHER) == DEPLOYMENT.replace("fn-posts", "fn-users")  # nothing else changed
    trailers = git("--git-dir", str(remote), "log", "-1", "--format=%(trailers:key=Findly-Change,valueonly)")
    assert trailers.strip() == change_key("fn-posts", "production", "1.2.4", STARTED)
    author = git("--git-dir", str(remote), "log", "-1", "--format=%an <%ae>").strip()
    assert author == SETTINGS.author
    assert repository.read(PATH) == set_image(DEPLOYMENT, IMAGE, "1.2.4")[0]


def test_a_hand_off_killed_after_its_push_finds_its_commit_by_key(remote: Path, tmp_path: Path) -> None:
    """The push happened, the event was never recorded: the retried hand-off (a new process, the same cache or a
    fresh one) finds the commit instead of making a second — even after someone else pushed on top of it."""
    first = open_repository(gitops(remote.as_uri()), cache_dir=tmp_path / "cache")
    made = first.commit(promotion(DEPLOYMENT))
    other_member(remote, tmp_path, OTHER, lambda text: text.replace("replicas: 3", "replicas: 4"))

    for cache in ("cache", "another-cache"):
        again = open_repository(gitops(remote.as_uri()), cache_dir=tmp_path / cache)
        found = again.commit(promotion(DEPLOYMENT))
        assert (found.sha, found.branch, found.created) == (made.sha, "main", False)
    assert count(remote) == 3  # render, the promotion, the other member's


def test_a_change_already_there_without_its_key_is_refused(remote: Path, tmp_path: Path) -> None:
    other_member(remote, tmp_path, PATH, lambda text: set_image(text, IMAGE, "1.2.4")[0])
    repository = open_repository(gitops(remote.as_uri()), cache_dir=tmp_path / "cache")
    with pytest.raises(BadInputError, match="nothing to commit"):
        repository.commit(promotion(DEPLOYMENT))


def test_a_branch_moved_since_the_read_is_merged_when_other_lines_changed(remote: Path, tmp_path: Path) -> None:
    repository = open_repository(gitops(remote.as_uri()), cache_dir=tmp_path / "cache")
    text = repository.read(PATH)
    assert text is not None
    other_member(remote, tmp_path, PATH, lambda text: text.replace("replicas: 3", "replicas: 5"))

    made = repository.commit(promotion(text))

    after = shown(remote, "main", PATH)
    assert "replicas: 5" in after  # the other member's line kept
    assert f'image: "{IMAGE}:1.2.4"' in after
    assert head(remote) == made.sha


def test_a_branch_moved_since_the_read_on_the_same_line_raises(remote: Path, tmp_path: Path) -> None:
    repository = open_repository(gitops(remote.as_uri()), cache_dir=tmp_path / "cache")
    text = repository.read(PATH)
    assert text is not None
    theirs = other_member(remote, tmp_path, PATH, lambda text: set_image(text, IMAGE, "1.2.9")[0])

    with pytest.raises(BranchMovedError, match="read it again") as raised:
        repository.commit(promotion(text))

    assert raised.value.files == (PATH,)
    assert head(remote) == theirs  # nothing pushed
    assert repository.commit(promotion(repository.read(PATH) or "")).created  # recomputed: it goes


@pytest.fixture
def racing(remote: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Something happens on the remote between this process's fetch and its push: each callable appended here, once."""
    edits: list[Any] = []
    push = GitCliRepository._push

    def raced(self: GitCliRepository, target: str) -> bool:
        while edits:
            edits.pop(0)()
        return push(self, target)

    monkeypatch.setattr(GitCliRepository, "_push", raced)
    return edits


def test_a_push_refused_because_another_member_pushed_first_is_made_again_on_the_new_head(
    remote: Path, tmp_path: Path, racing: list[Any]
) -> None:
    racing.append(
        lambda: other_member(remote, tmp_path, OTHER, lambda text: text.replace("replicas: 3", "replicas: 4"))
    )
    racing.append(lambda: other_member(remote, tmp_path, PATH, lambda text: text.replace("replicas: 3", "replicas: 6")))
    repository = open_repository(gitops(remote.as_uri()), cache_dir=tmp_path / "cache")

    made = repository.commit(promotion(DEPLOYMENT))

    assert made.created
    assert head(remote) == made.sha
    assert count(remote) == 4  # render, the two others', ours on top: one commit of ours
    assert "replicas: 4" in shown(remote, "main", OTHER)
    assert "replicas: 6" in shown(remote, "main", PATH)
    assert f'image: "{IMAGE}:1.2.4"' in shown(remote, "main", PATH)


def test_a_push_raced_by_a_change_of_the_same_line_raises_and_pushes_nothing(
    remote: Path, tmp_path: Path, racing: list[Any]
) -> None:
    racing.append(lambda: other_member(remote, tmp_path, PATH, lambda text: set_image(text, IMAGE, "1.3.0")[0]))
    repository = open_repository(gitops(remote.as_uri()), cache_dir=tmp_path / "cache")

    with pytest.raises(BranchMovedError) as raised:
        repository.commit(promotion(DEPLOYMENT))

    assert PATH in str(raised.value)
    assert count(remote) == 2
    assert f'image: "{IMAGE}:1.3.0"' in shown(remote, "main", PATH)


def test_a_push_raced_by_the_same_hand_off_finds_it(remote: Path, tmp_path: Path, racing: list[Any]) -> None:
    """Two runners of one rollout: the second's push is refused, and on the new head it finds the first's commit."""
    change = promotion(DEPLOYMENT)
    repository = open_repository(gitops(remote.as_uri()), cache_dir=tmp_path / "cache")
    twin = open_repository(gitops(remote.as_uri()), cache_dir=tmp_path / "twin-cache")
    made: list[str] = []
    # another message: the same commit made in the same second by the same author would be the same object
    racing.append(lambda: made.append(twin.commit(attrs.evolve(change, message="the other runner")).sha))

    found = repository.commit(change)

    assert not found.created
    assert found.sha == made[0]


# ---- reverts -----------------------------------------------------------------------------------------------------


def test_a_revert_restores_the_file_and_is_found_by_its_key(remote: Path, tmp_path: Path) -> None:
    repository = open_repository(gitops(remote.as_uri()), cache_dir=tmp_path / "cache")
    made = repository.commit(promotion(DEPLOYMENT))
    other_member(remote, tmp_path, OTHER, lambda text: text.replace("replicas: 3", "replicas: 4"))
    key = change_key("fn-posts", "production", "1.2.4", STARTED, revert=True)

    reverted = repository.revert(made.sha, key=key, message="Roll back fn-posts 1.2.4 in production")

    assert reverted.created
    assert head(remote) == reverted.sha
    assert shown(remote, "main", PATH) == DEPLOYMENT
    assert "replicas: 4" in shown(remote, "main", OTHER)
    body = git("--git-dir", str(remote), "log", "-1", "--format=%B")
    assert f"This reverts commit {made.sha}." in body
    assert body.rstrip().endswith(f"Findly-Change: {key}")
    again = open_repository(gitops(remote.as_uri()), cache_dir=tmp_path / "cache-2")
    assert again.revert(made.sha, key=key, message="Roll back") == GitCommit(reverted.sha, "main", created=False)


def test_a_revert_that_conflicts_names_the_file(remote: Path, tmp_path: Path) -> None:
    repository = open_repository(gitops(remote.as_uri()), cache_dir=tmp_path / "cache")
    made = repository.commit(promotion(DEPLOYMENT))
    theirs = other_member(remote, tmp_path, PATH, lambda text: set_image(text, IMAGE, "1.2.5")[0])

    with pytest.raises(BadInputError, match=f"conflicts with later changes to {PATH}"):
        repository.revert(made.sha, key="revert:x", message="Roll back")

    assert head(remote) == theirs
    assert repository.read(PATH) == set_image(DEPLOYMENT, IMAGE, "1.2.5")[0]  # the clone is usable after it


def test_a_revert_of_a_commit_not_on_the_branch_is_refused(remote: Path, tmp_path: Path) -> None:
    repository = open_repository(gitops(remote.as_uri()), cache_dir=tmp_path / "cache")
    with pytest.raises(BadInputError, match="not in"):
        repository.revert("0123456789abcdef0123456789abcdef01234567", key="revert:x", message="Roll back")


# ---- includes ------------------------------------------------------------------------------------------------------


def test_includes_answers_from_the_history(remote: Path, tmp_path: Path) -> None:
    repository = open_repository(gitops(remote.as_uri()), cache_dir=tmp_path / "cache")
    render = head(remote)
    made = repository.commit(promotion(DEPLOYMENT))
    later = other_member(remote, tmp_path, OTHER, lambda text: text + "# later\n")  # not fetched by this clone yet

    assert repository.includes(made.sha, made.sha) is True
    assert repository.includes(later, made.sha) is True  # fetched, then known
    assert repository.includes(f"main@sha1:{later}", made.sha) is True  # Flux's lastAppliedRevision
    assert repository.includes(render, made.sha) is False
    assert repository.includes("0123456789abcdef0123456789abcdef01234567", made.sha) is None
    assert repository.includes("not a revision", made.sha) is None


def test_read_at_gives_a_file_as_a_revision_holds_it(remote: Path, tmp_path: Path) -> None:
    repository = open_repository(gitops(remote.as_uri()), cache_dir=tmp_path / "cache")
    render = head(remote)
    made = repository.commit(promotion(DEPLOYMENT))
    later = other_member(remote, tmp_path, PATH, lambda text: text + "# later\n")  # not fetched by this clone yet

    assert repository.read_at(render, PATH) == DEPLOYMENT
    assert repository.read_at(made.sha, PATH) == set_image(DEPLOYMENT, IMAGE, "1.2.4")[0]
    assert (repository.read_at(f"main@sha1:{later}", PATH) or "").endswith("# later\n")  # fetched, then known
    assert repository.read_at(made.sha, "k8s/no/such/file.yaml") is None
    assert repository.read_at("0123456789abcdef0123456789abcdef01234567", PATH) is None
    assert repository.read_at("not a revision", PATH) is None


# ---- the cache -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda work: (work / ".git" / "HEAD").unlink(), id="no-HEAD"),
        pytest.param(lambda work: (work / ".git" / "config").write_text("[core\n garbage"), id="config"),
        pytest.param(
            lambda work: [path.unlink() for path in (work / ".git" / "objects").rglob("*") if path.is_file()],
            id="objects",
        ),
        pytest.param(
            lambda work: git("remote", "set-url", "origin", "file:///nowhere/else.git", cwd=work), id="another-url"
        ),
    ],
)
def test_a_broken_cache_is_cloned_again(remote: Path, tmp_path: Path, damage: Any) -> None:
    repository = open_repository(gitops(remote.as_uri()), cache_dir=tmp_path / "cache")
    made = repository.commit(promotion(DEPLOYMENT))
    (work,) = (tmp_path / "cache").glob("*/work")
    damage(work)

    again = open_repository(gitops(remote.as_uri()), cache_dir=tmp_path / "cache")

    assert again.read(PATH) == set_image(DEPLOYMENT, IMAGE, "1.2.4")[0]
    assert again.commit(promotion(DEPLOYMENT)).sha == made.sha


def test_the_clone_is_reused(remote: Path, tmp_path: Path) -> None:
    repository = open_repository(gitops(remote.as_uri()), cache_dir=tmp_path / "cache")
    repository.read(PATH)
    (work,) = (tmp_path / "cache").glob("*/work")
    (work / ".git" / "marker").write_text("still here")
    repository.commit(promotion(DEPLOYMENT))
    open_repository(gitops(remote.as_uri(), branch="main"), cache_dir=tmp_path / "cache").read(PATH)
    assert (work / ".git" / "marker").read_text() == "still here"


def test_a_missing_branch_is_bad_input(remote: Path, tmp_path: Path) -> None:
    repository = open_repository(gitops(remote.as_uri(), branch="nope"), cache_dir=tmp_path / "cache")
    with pytest.raises(BadInputError, match="nope"):
        repository.read(PATH)


def test_an_unreachable_remote_is_a_dependency_failure(tmp_path: Path) -> None:
    repository = open_repository(gitops("http://127.0.0.1:9/deploy.git"), cache_dir=tmp_path / "cache")
    with pytest.raises(DependencyUnavailableError, match="cannot be reached"):
        repository.read(PATH)


# ---- credentials ---------------------------------------------------------------------------------------------------

TOKEN = "ghs_16C7e42F292c6912E7710c838347Ae178B4a"  # the shape of a GitHub token, not one


@pytest.fixture
def refusing_git_server() -> Iterator[tuple[str, list[str]]]:
    """An HTTP remote that records the Authorization header git sends and refuses it (403), as GitHub does a
    token without access."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(", ".join(self.headers.get_all("Authorization") or []))  # each one sent
            self.send_response(403)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/findly-now/deploy.git", seen
    finally:
        server.shutdown()
        server.server_close()


def test_the_token_goes_in_a_header_to_the_github_server_and_nowhere_else(
    refusing_git_server: tuple[str, list[str]], tmp_path: Path
) -> None:
    """The header goes to the GitHub server's origin only, as actions/checkout scopes it (src/git-auth-helper.ts:
    ``http.${serverUrl.origin}/.extraheader``): here the server is the loopback stand-in (http is allowed on
    127.0.0.1 only)."""
    url, seen = refusing_git_server
    server = url.split("/findly-now/")[0]
    repository = open_repository(gitops(url), cache_dir=tmp_path / "cache", token=TOKEN, server_url=server)

    with pytest.raises(BadInputError) as raised:
        repository.read(PATH)

    pair = base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()
    assert seen
    assert seen[0] == f"basic {pair}"  # what actions/checkout sends (src/git-auth-helper.ts)
    assert TOKEN not in str(raised.value)
    assert pair not in str(raised.value)
    for path in (tmp_path / "cache").rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes()
            assert pair.encode() not in path.read_bytes()


def test_the_token_never_goes_to_another_host_nor_over_plain_http(
    refusing_git_server: tuple[str, list[str]], tmp_path: Path
) -> None:
    """A repository that is not on the GitHub server (GitLab, a Gitea: here the loopback server, with the server
    left at https://github.com) gets no token; a GitHub server reached over non-loopback http is refused."""
    url, seen = refusing_git_server
    elsewhere = open_repository(gitops(url), cache_dir=tmp_path / "cache", token=TOKEN)
    with pytest.raises(BadInputError):
        elsewhere.read(PATH)
    assert seen
    assert set(seen) == {""}

    with pytest.raises(BadInputError, match=r"github\.example\.com.*only over https"):
        open_repository(
            gitops("http://github.example.com/o/r.git"),
            cache_dir=tmp_path / "cache",
            token=TOKEN,
            server_url="http://github.example.com",
        )
    plain = GitCliRepository(settings=gitops("http://github.com/o/r.git"), cache_dir=tmp_path / "cache", token=TOKEN)
    assert not any("AUTHORIZATION" in value for value in plain._environment().values())  # same host, http: none


def test_no_token_in_the_cache_after_a_commit(remote: Path, tmp_path: Path) -> None:
    repository = open_repository(gitops(remote.as_uri()), cache_dir=tmp_path / "cache", token=TOKEN)
    repository.commit(promotion(DEPLOYMENT))
    (config,) = (tmp_path / "cache").glob("*/work/.git/config")
    assert TOKEN not in config.read_text()
    assert "extraheader" not in config.read_text()
    assert git("config", "--get", "remote.origin.url", cwd=config.parent.parent).strip() == remote.as_uri()


def test_a_token_that_cannot_be_a_header_is_refused_without_showing_it(remote: Path, tmp_path: Path) -> None:
    with pytest.raises(BadInputError) as raised:
        open_repository(gitops(remote.as_uri()), cache_dir=tmp_path / "cache", token="ghs_abc\ndef")
    assert "ghs_abc" not in str(raised.value)


# ---- pull requests: a stand-in of GitHub's pulls endpoint ----------------------------------------------------------


class PullsStandIn:
    """``GET``/``POST /repos/{owner}/{repo}/pulls`` as https://docs.github.com/en/rest/pulls/pulls documents them:

    - List pull requests: ``state`` (open, closed, all; default open), ``head`` (``user:ref-name``) and ``base``
      filter; 200 with an array of pull requests (``number``, ``state``, ``html_url``, ``head.ref``/``head.label``,
      ``base.ref``, ``merged_at``, ``merge_commit_sha``). A merge (made by the test: :meth:`merge`) closes the pull
      request and sets ``merged_at`` and ``merge_commit_sha`` — "the SHA of the squashed commit on the base branch"
      for a squash (https://docs.github.com/en/rest/pulls/pulls#get-a-pull-request).
    - Create a pull request: ``title``, ``head``, ``base`` (required), ``body``; 201 with the pull request; 422
      ("Validation Failed") when a pull request already exists for the head, or the head or base is not a branch of
      the repository (the branches are read from *bare*, the repository the stand-in serves).
    - Every request without ``Authorization: Bearer <token>`` (the token configured) is 401 "Bad credentials"
      (https://docs.github.com/en/rest/authentication/authenticating-to-the-rest-api).
    """

    def __init__(self, owner: str, repo: str, bare: Path, token: str) -> None:
        self.owner, self.repo, self.bare, self.token = owner, repo, bare, token
        self.pulls: list[dict[str, Any]] = []
        self.failures: list[int | tuple[int, dict[str, Any], dict[str, str]]] = []
        """Statuses answered, one per request, before the behaviour above (5xx: a GitHub incident; 0: answered as
        documented; or (status, body, headers): a rate limit as GitHub answers it)."""
        self.headers: dict[str, str] = {}
        """The headers of the answer being made."""
        self.requests: list[tuple[str, str]] = []

    def merge(self, number: int, sha: str) -> None:
        """The pull request *number* merged into its base as commit *sha* (made by the test, as GitHub would)."""
        pull = self.pulls[number - 1]
        pull.update(state="closed", merged_at="2026-12-06T22:00:00Z", merge_commit_sha=sha)

    def branch(self, name: str) -> bool:
        found = subprocess.run(
            ["git", "--git-dir", str(self.bare), "rev-parse", "--verify", "--quiet", f"refs/heads/{name}"],
            capture_output=True,
            check=False,
        )
        return found.returncode == 0

    def answer(self, method: str, target: str, headers: Any, body: bytes) -> tuple[int, Any]:  # noqa: PLR0911
        self.requests.append((method, target))
        self.headers = {}
        failure = self.failures.pop(0) if self.failures else 0
        if isinstance(failure, tuple):
            status, said, self.headers = failure
            return status, said
        if failure:
            return failure, {"message": "Server Error"}
        if headers.get("Authorization") != f"Bearer {self.token}":
            return 401, {"message": "Bad credentials"}
        parts = urlsplit(target)
        if parts.path != f"/repos/{self.owner}/{self.repo}/pulls":
            return 404, {"message": "Not Found"}
        if method == "GET":
            query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
            state = query.get("state", "open")
            return 200, [
                pull
                for pull in self.pulls
                if (state == "all" or pull["state"] == state)
                and ("head" not in query or pull["head"]["label"] == query["head"])
                and ("base" not in query or pull["base"]["ref"] == query["base"])
            ]
        fields = json.loads(body)
        head_ref, base_ref = fields.get("head", ""), fields.get("base", "")
        if not self.branch(head_ref) or not self.branch(base_ref):
            return 422, {"message": "Validation Failed", "errors": [{"resource": "PullRequest", "code": "invalid"}]}
        label = f"{self.owner}:{head_ref}"
        if any(  # one open pull request per head and base: the same head may be proposed into another base
            pull["head"]["label"] == label and pull["base"]["ref"] == base_ref and pull["state"] == "open"
            for pull in self.pulls
        ):
            return 422, {
                "message": "Validation Failed",
                "errors": [
                    {
                        "resource": "PullRequest",
                        "code": "custom",
                        "message": f"A pull request already exists for {label}.",
                    }
                ],
            }
        number = len(self.pulls) + 1
        pull = {
            "number": number,
            "state": "open",
            "title": fields.get("title"),
            "body": fields.get("body"),
            "html_url": f"https://github.com/{self.owner}/{self.repo}/pull/{number}",
            "head": {"ref": head_ref, "label": label},
            "base": {"ref": base_ref, "label": f"{self.owner}:{base_ref}"},
            "merged_at": None,
            "merge_commit_sha": None,
        }
        self.pulls.append(pull)
        return 201, pull


@pytest.fixture
def github(remote: Path, global_git_config: Path) -> Iterator[tuple[str, PullsStandIn]]:
    """The stand-in on 127.0.0.1, and git told to reach ``https://github.com/findly-now/deploy.git`` in *remote*
    (``url.<base>.insteadOf``, in the test's own global configuration: what a user's configuration may hold)."""
    global_git_config.write_text(f'[url "{remote.as_uri()}"]\n\tinsteadOf = https://github.com/findly-now/deploy.git\n')
    stand_in = PullsStandIn("findly-now", "deploy", remote, TOKEN)

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            status, answer = stand_in.answer(self.command, self.path, self.headers, self.rfile.read(length))
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in stand_in.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _serve  # noqa: N815 - http.server's names

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", stand_in
    finally:
        server.shutdown()
        server.server_close()


PR_SETTINGS = gitops("https://github.com/findly-now/deploy.git", pull_request=True)


def test_pull_request_mode_pushes_a_branch_of_its_own_and_opens_one_pull_request(
    remote: Path, tmp_path: Path, github: tuple[str, PullsStandIn]
) -> None:
    api, stand_in = github
    before = head(remote)
    repository = open_repository(PR_SETTINGS, cache_dir=tmp_path / "cache", token=TOKEN, api_url=api)

    made = repository.commit(promotion(DEPLOYMENT))

    own = pull_request_branch(change_key("fn-posts", "production", "1.2.4", STARTED))
    assert own == "findly/fn-posts/production/1.2.4/2026-12-06T21-45-32Z"
    assert (made.branch, made.created) == (own, True)
    assert made.pull_request == "https://github.com/findly-now/deploy/pull/1"
    assert head(remote) == before  # main untouched: the pull request proposes it
    assert head(remote, own) == made.sha
    (pull,) = stand_in.pulls
    assert (pull["head"]["ref"], pull["base"]["ref"], pull["title"]) == (own, "main", "fn-posts 1.2.4 to production")

    # killed before the event was recorded: found, with its pull request, and no second one
    again = open_repository(PR_SETTINGS, cache_dir=tmp_path / "cache-2", token=TOKEN, api_url=api)
    found = again.commit(promotion(DEPLOYMENT))
    assert (found.sha, found.branch, found.pull_request, found.created) == (made.sha, own, made.pull_request, False)
    assert len(stand_in.pulls) == 1

    # merged (as a fast-forward): found on main
    git("--git-dir", str(remote), "update-ref", "refs/heads/main", made.sha)
    merged = again.commit(promotion(DEPLOYMENT))
    assert (merged.sha, merged.branch, merged.created) == (made.sha, "main", False)
    assert again.includes(head(remote), made.sha) is True


def test_pull_request_pushed_but_not_opened_is_opened_by_the_retry(
    remote: Path, tmp_path: Path, github: tuple[str, PullsStandIn]
) -> None:
    api, stand_in = github
    repository = open_repository(PR_SETTINGS, cache_dir=tmp_path / "cache", token=TOKEN, api_url=api)
    stand_in.failures = [0, 403]  # the GET before the POST: refused, as a token without pull-requests: write is

    with pytest.raises(BadInputError, match="pull-requests: write") as raised:
        repository.commit(promotion(DEPLOYMENT))
    assert TOKEN not in str(raised.value)
    assert not stand_in.pulls

    found = repository.commit(promotion(DEPLOYMENT))
    assert not found.created
    assert found.pull_request == "https://github.com/findly-now/deploy/pull/1"


def test_github_errors_are_retried_then_answered(
    remote: Path, tmp_path: Path, github: tuple[str, PullsStandIn]
) -> None:
    import stamina

    api, stand_in = github
    stamina.set_testing(True, attempts=3)  # no waits between the attempts
    try:
        stand_in.failures = [502, 503]
        repository = open_repository(PR_SETTINGS, cache_dir=tmp_path / "cache", token=TOKEN, api_url=api)
        assert repository.commit(promotion(DEPLOYMENT)).pull_request is not None

        stand_in.failures = [502, 502, 502]
        with pytest.raises(DependencyUnavailableError, match="keeps answering HTTP 502"):
            repository.commit(promotion(DEPLOYMENT, version="1.2.5"))
    finally:
        stamina.set_testing(False)

    wrong = open_repository(PR_SETTINGS, cache_dir=tmp_path / "cache", token=TOKEN + "x", api_url=api)
    with pytest.raises(BadInputError, match="HTTP 401"):
        wrong.commit(promotion(DEPLOYMENT, version="1.2.6"))


def test_pull_request_mode_needs_a_github_repository_and_a_token(remote: Path, tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="not a GitHub repository"):
        open_repository(gitops(remote.as_uri(), pull_request=True), cache_dir=tmp_path, token=TOKEN)
    with pytest.raises(BadInputError, match="GITHUB_TOKEN"):
        open_repository(PR_SETTINGS, cache_dir=tmp_path)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://github.com/findly-now/deploy", ("findly-now", "deploy")),
        ("https://github.com/findly-now/deploy.git", ("findly-now", "deploy")),
        ("git@github.com:findly-now/deploy.git", ("findly-now", "deploy")),
        ("ssh://git@github.com/findly-now/deploy.git", ("findly-now", "deploy")),
        ("https://gitlab.com/findly-now/deploy.git", None),
        ("https://github.com/findly-now", None),
        ("file:///srv/deploy.git", None),
    ],
)
def test_github_repository_of_a_url(url: str, expected: tuple[str, str] | None) -> None:
    assert github_repository(url) == expected


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(min_size=1, max_size=80).filter(lambda key: "\n" not in key))
def test_a_pull_request_branch_is_a_branch_git_accepts(key: str) -> None:
    name = pull_request_branch(key)
    assert name == pull_request_branch(key)
    assert name.startswith("findly/")
    checked = subprocess.run(["git", "check-ref-format", "--branch", name], capture_output=True, check=False)
    assert checked.returncode == 0, name


def test_open_repository_says_when_git_is_missing(
    remote: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(git_repository.shutil, "which", lambda _name: None)
    with pytest.raises(BadInputError, match="git command-line tool"):
        open_repository(gitops(remote.as_uri()), cache_dir=tmp_path)


def test_a_remote_out_of_reach_leaves_the_clone_as_it_was(remote: Path, tmp_path: Path) -> None:
    repository = open_repository(gitops(remote.as_uri()), cache_dir=tmp_path / "cache")
    repository.commit(promotion(DEPLOYMENT))
    (work,) = (tmp_path / "cache").glob("*/work")
    (work / ".git" / "marker").write_text("still here")
    moved = remote.rename(tmp_path / "away.git")

    with pytest.raises(BadInputError, match="does not appear to be a git repository"):
        repository.read(PATH)

    assert (work / ".git" / "marker").read_text() == "still here"
    moved.rename(remote)
    assert repository.read(PATH) == set_image(DEPLOYMENT, IMAGE, "1.2.4")[0]


def test_changes_follow_one_another_from_what_the_caller_wrote(remote: Path, tmp_path: Path) -> None:
    """The next change is computed from the text the last one wrote (not read again): its base is that text."""
    repository = open_repository(gitops(remote.as_uri()), cache_dir=tmp_path / "cache")
    text = repository.read(PATH) or ""
    first = promotion(text)
    repository.commit(first)
    other_member(remote, tmp_path, PATH, lambda text: text.replace("replicas: 3", "replicas: 7"))
    second = repository.commit(promotion(first.files[PATH], version="1.2.5", started="2026-12-06T22:00:00Z"))
    assert second.created
    after = shown(remote, "main", PATH)
    assert "replicas: 7" in after
    assert f'image: "{IMAGE}:1.2.5"' in after


def test_a_local_path_is_a_repository_too(remote: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    repository = open_repository(gitops("deploy.git"), cache_dir=tmp_path / "cache")
    made = repository.commit(promotion(DEPLOYMENT))
    (work,) = (tmp_path / "cache").glob("*/work")
    (work / ".git" / "marker").write_text("still here")
    assert repository.includes(head(remote), made.sha) is True
    assert repository.read(PATH) == set_image(DEPLOYMENT, IMAGE, "1.2.4")[0]
    assert (work / ".git" / "marker").exists()  # the clone reused: its origin is the path made absolute


def test_github_refusals_say_what_to_check(github: tuple[str, PullsStandIn]) -> None:
    api, stand_in = github
    elsewhere = git_repository.GitHubPulls(owner="findly-now", repo="nowhere", token=TOKEN, api_url=api)
    with pytest.raises(BadInputError, match=r"404.*does not exist, or the token cannot see it"):
        elsewhere.find_open("findly/x")

    pulls = git_repository.GitHubPulls(owner="findly-now", repo="deploy", token=TOKEN, api_url=api)
    with pytest.raises(BadInputError, match="HTTP 422 Validation Failed"):  # the head is no branch of the repository
        pulls.open_or_find(head="findly/no-such-branch", base="main", title="t", body="")

    waits: list[float] = []
    pulls = attrs.evolve(pulls, sleep=waits.append)
    stand_in.failures = [429]  # a secondary rate limit: waited out (a minute: no retry-after), retried
    assert pulls.find_open("findly/x") is None
    assert waits == [60.0]


def test_the_users_git_configuration_changes_nothing_committed(
    remote: Path, tmp_path: Path, global_git_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Identity, signing, hooks, line endings, colours, the remote's name: a user's global configuration of any of
    them does not reach the commit, nor the output the adapter reads."""
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "pre-commit").write_text("#!/bin/sh\nexit 1\n")
    (hooks / "pre-commit").chmod(0o755)
    global_git_config.write_text(
        "[user]\n\tname = Someone Else\n\temail = else@example.com\n"
        "[author]\n\tname = An Author\n\temail = author@example.com\n"
        "[committer]\n\tname = A Committer\n\temail = committer@example.com\n"
        "[commit]\n\tgpgsign = true\n[push]\n\tgpgSign = true\n"
        f"[core]\n\thooksPath = {hooks}\n\tautocrlf = true\n"
        "[color]\n\tui = always\n[log]\n\tshowSignature = true\n"
        "[clone]\n\tdefaultRemoteName = upstream\n"
    )
    monkeypatch.setenv("GIT_AUTHOR_NAME", "CI Bot")  # what a CI job's environment may hold
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "ci@example.com")
    repository = open_repository(gitops(remote.as_uri()), cache_dir=tmp_path / "cache")
    made = repository.commit(promotion(DEPLOYMENT))
    again = open_repository(gitops(remote.as_uri()), cache_dir=tmp_path / "cache").commit(promotion(DEPLOYMENT))

    assert again.sha == made.sha
    assert not again.created
    global_git_config.write_text("")
    assert git("--git-dir", str(remote), "log", "-1", "--format=%an <%ae>").strip() == SETTINGS.author
    assert git("--git-dir", str(remote), "log", "-1", "--format=%cn <%ce>").strip() == SETTINGS.author
    assert shown(remote, "main", PATH) == set_image(DEPLOYMENT, IMAGE, "1.2.4")[0]  # LF, as written


def test_pull_request_mode_reverts_what_was_merged_even_squashed(
    remote: Path, tmp_path: Path, github: tuple[str, PullsStandIn]
) -> None:
    """A pull request merged by squash leaves another commit on main, carrying the same key: includes() follows it
    by the key, and the rollback's pull request reverts it."""
    api, stand_in = github
    repository = open_repository(PR_SETTINGS, cache_dir=tmp_path / "cache", token=TOKEN, api_url=api)
    proposed = repository.commit(promotion(DEPLOYMENT))
    with pytest.raises(BadInputError, match="not on 'main'"):  # not merged yet: nothing deployed to revert
        repository.revert(proposed.sha, key="revert:early", message="Roll back")

    squash = tmp_path / "squash"  # GitHub's squash merge: one new commit on main, the message (and trailer) kept
    git("clone", "--quiet", remote.as_uri(), str(squash))
    git("fetch", "--quiet", "origin", proposed.branch, cwd=squash)
    git("merge", "--quiet", "--squash", "FETCH_HEAD", cwd=squash)
    title, body = git("log", "-1", "--format=%s%x00%b", "FETCH_HEAD", cwd=squash).split("\0")
    git("commit", "--quiet", "-m", f"{title} (#1)\n\n{body.strip()}", cwd=squash)  # a one-commit pull request's
    git("push", "--quiet", "origin", "HEAD:main", cwd=squash)
    merged = head(remote)
    assert merged != proposed.sha
    assert repository.includes(merged, proposed.sha) is True

    key = change_key("fn-posts", "production", "1.2.4", STARTED, revert=True)
    reverted = repository.revert(proposed.sha, key=key, message="Roll back fn-posts 1.2.4 in production")

    assert reverted.created
    assert reverted.branch == "findly/revert/fn-posts/production/1.2.4/2026-12-06T21-45-32Z"
    assert reverted.pull_request == "https://github.com/findly-now/deploy/pull/2"
    assert head(remote) == merged  # proposed, not pushed to main
    assert shown(remote, reverted.branch, PATH) == DEPLOYMENT
    assert f"This reverts commit {merged}." in git("--git-dir", str(remote), "log", "-1", "--format=%B", reverted.sha)
    assert repository.revert(proposed.sha, key=key, message="again") == attrs.evolve(reverted, created=False)
    assert len(stand_in.pulls) == 2


def test_a_remote_that_never_answers_is_given_up_at_the_timeout(tmp_path: Path) -> None:
    """A connection taken (the kernel's backlog) and never answered: the call ends at its timeout (exit 5)."""
    import socket

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/findly-now/deploy.git"
        repository = GitCliRepository(settings=gitops(url), cache_dir=tmp_path / "cache", timeout=0.5)
        with pytest.raises(DependencyUnavailableError, match=r"took longer than 0\.5 s"):
            repository.read(PATH)


def test_open_repository_says_when_git_is_too_old(
    remote: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(git_repository, "_git_version", lambda: (2, 30))
    with pytest.raises(BadInputError, match=r"needs git 2\.31 or later.*this git is 2\.30"):
        open_repository(gitops(remote.as_uri()), cache_dir=tmp_path)


def squash_merge(remote: Path, tmp_path: Path, branch: str, message: str) -> str:
    """What GitHub's squash merge leaves on main: one commit, with the message GitHub composed; the head branch then
    deleted ("Automatically delete head branches")."""
    work = tmp_path / "squash"
    git("clone", "--quiet", remote.as_uri(), str(work))
    git("fetch", "--quiet", "origin", branch, cwd=work)
    git("merge", "--quiet", "--squash", "FETCH_HEAD", cwd=work)
    git("commit", "--quiet", "--allow-empty-message", "-m", message, cwd=work)
    git("push", "--quiet", "origin", "HEAD:main", cwd=work)
    git("--git-dir", str(remote), "branch", "-D", branch)
    return head(remote)


@pytest.mark.parametrize("shape", ["several-commits", "PR_BODY", "BLANK"])
def test_a_squash_merge_is_followed_and_reverted_whatever_message_github_composed(
    remote: Path, tmp_path: Path, github: tuple[str, PullsStandIn], shape: str
) -> None:
    """GitHub's squash message: with several commits on the branch, "a list of the commit messages … in date
    order" then ``Co-authored-by`` (About pull request merges, "Merge message for a squash merge"); with the
    repository's ``squash_merge_commit_message`` PR_BODY the pull request's body, BLANK nothing
    (https://docs.github.com/en/rest/repos/repos#update-a-repository). includes() and revert() follow the merge: by
    the key's line wherever it is, else by the pull request's ``merge_commit_sha``."""
    api, stand_in = github
    repository = open_repository(PR_SETTINGS, cache_dir=tmp_path / "cache", token=TOKEN, api_url=api)
    proposed = repository.commit(promotion(DEPLOYMENT))
    key = change_key("fn-posts", "production", "1.2.4", STARTED)
    (pull,) = stand_in.pulls
    assert f"Findly-Change: {key}" in pull["body"]
    if shape == "several-commits":
        review = tmp_path / "review"
        git("clone", "--quiet", "--branch", proposed.branch, remote.as_uri(), str(review))
        (review / "NOTES").write_text("approved with a note\n")
        git("add", ".", cwd=review)
        git("commit", "--quiet", "-m", "Add a note", cwd=review)
        git("push", "--quiet", "origin", f"HEAD:{proposed.branch}", cwd=review)
        message = (
            f"{pull['title']} (#1)\n\n* {pull['title']}\n\nFindly-Change: {key}\n\n* Add a note\n\n"
            "---------\n\nCo-authored-by: Someone <s@example.com>\n"
        )
    else:
        message = f"{pull['title']} (#1)\n\n{pull['body'] if shape == 'PR_BODY' else ''}"
    merged = squash_merge(remote, tmp_path, proposed.branch, message)
    stand_in.merge(1, merged)

    assert repository.includes(merged, proposed.sha) is True
    asked = len(stand_in.requests)
    assert repository.includes(merged, proposed.sha) is True  # polled again: GitHub is not asked again
    assert len(stand_in.requests) == asked
    again = repository.commit(promotion(DEPLOYMENT))  # the retried hand-off: found merged, nothing proposed again
    assert (again.sha, again.branch, again.created) == (merged, "main", False)
    assert len(stand_in.pulls) == 1
    reverted = repository.revert(proposed.sha, key=f"revert:{key}", message="Roll back fn-posts 1.2.4")
    assert reverted.created
    assert shown(remote, reverted.branch, PATH) == DEPLOYMENT
    assert f"This reverts commit {merged}." in git("--git-dir", str(remote), "log", "-1", "--format=%B", reverted.sha)


def test_a_pull_request_into_another_base_is_not_taken_for_the_hand_offs(
    remote: Path, tmp_path: Path, github: tuple[str, PullsStandIn]
) -> None:
    api, stand_in = github
    own = pull_request_branch(change_key("fn-posts", "production", "1.2.4", STARTED))
    git("--git-dir", str(remote), "branch", "staging", "main")
    git("--git-dir", str(remote), "branch", own, "main")
    stand_in.pulls.append(
        {
            "number": 1,
            "state": "open",
            "html_url": "https://github.com/findly-now/deploy/pull/1",
            "head": {"ref": own, "label": f"findly-now:{own}"},
            "base": {"ref": "staging", "label": "findly-now:staging"},
            "merged_at": None,
            "merge_commit_sha": None,
        }
    )
    git("--git-dir", str(remote), "branch", "-D", own)
    repository = open_repository(PR_SETTINGS, cache_dir=tmp_path / "cache", token=TOKEN, api_url=api)

    made = repository.commit(promotion(DEPLOYMENT))

    assert made.pull_request == "https://github.com/findly-now/deploy/pull/2"


@pytest.mark.parametrize("branch_deleted", [False, True])
def test_a_pull_request_a_person_closed_is_not_opened_again(
    remote: Path, tmp_path: Path, github: tuple[str, PullsStandIn], branch_deleted: bool
) -> None:
    """A person closed the pull request without merging (refused the promotion), its branch kept or deleted: the
    next hand-off of that key says so and proposes nothing again."""
    api, stand_in = github
    repository = open_repository(PR_SETTINGS, cache_dir=tmp_path / "cache", token=TOKEN, api_url=api)
    proposed = repository.commit(promotion(DEPLOYMENT))
    stand_in.pulls[0]["state"] = "closed"
    if branch_deleted:
        git("--git-dir", str(remote), "branch", "-D", proposed.branch)

    with pytest.raises(PullRequestClosedError, match="closed without being merged: a person refused it") as raised:
        repository.commit(promotion(DEPLOYMENT))

    assert raised.value.url == "https://github.com/findly-now/deploy/pull/1"
    assert len(stand_in.pulls) == 1
    assert branch_deleted == (not stand_in.branch(proposed.branch))  # nothing pushed again


def pre_receive(remote: Path, script: str) -> None:
    hook = remote / "hooks" / "pre-receive"
    hook.write_text(f"#!/bin/sh\ncat >/dev/null\n{script}\n")
    hook.chmod(0o755)


def test_a_push_that_loses_a_race_inside_the_server_is_made_again(remote: Path, tmp_path: Path) -> None:
    """Another member's push lands between this push's ref advertisement and its ref update: receive-pack answers
    ``[remote rejected] (failed to update ref)`` (github.com: ``cannot lock ref …``) — the branch moved, retried."""
    theirs = other_member(remote, tmp_path, OTHER, lambda text: text + "# racer\n")
    git("--git-dir", str(remote), "update-ref", "refs/heads/racer", theirs)
    git("--git-dir", str(remote), "update-ref", "refs/heads/main", "main~1")
    marker = tmp_path / "raced"
    pre_receive(  # the racing push lands now, outside this push's quarantine
        remote,
        f"[ -e {marker} ] && exit 0\ntouch {marker}\n"
        "env -u GIT_QUARANTINE_PATH -u GIT_OBJECT_DIRECTORY -u GIT_ALTERNATE_OBJECT_DIRECTORIES "
        "git update-ref refs/heads/main refs/heads/racer",
    )
    repository = open_repository(gitops(remote.as_uri()), cache_dir=tmp_path / "cache")

    made = repository.commit(promotion(DEPLOYMENT))

    assert marker.exists()
    assert made.created
    assert git("--git-dir", str(remote), "rev-parse", "main~1").strip() == theirs


def test_a_push_refused_by_the_server_is_passed_on_without_advice(remote: Path, tmp_path: Path) -> None:
    """Any refusal but a protected branch's is passed on as the server said it, with no advice."""
    pre_receive(remote, "echo 'remote: some policy of the server' >&2\nexit 1")
    repository = open_repository(gitops(remote.as_uri()), cache_dir=tmp_path / "cache")
    with pytest.raises(BadInputError, match=r"refused the push to 'main': \(pre-receive hook declined\)$"):
        repository.commit(promotion(DEPLOYMENT))


@pytest.mark.parametrize(
    ("reason", "kind"),
    [  # the reasons of `! <ref>\t[remote rejected] (<reason>)` lines, as github.com and git answer them
        ("(cannot lock ref 'refs/heads/main': is at 1111 but expected 2222)", "raced"),
        ("(failed to update ref)", "raced"),
        ("(incorrect old value provided)", "raced"),
        ("(protected branch hook declined)", "protected"),
        ("(push declined due to repository rule violations)", "protected"),
        ("(pre-receive hook declined)", "other"),
    ],
)
def test_remote_rejections_are_told_apart(reason: str, kind: str) -> None:
    raced = git_repository._RACED.search(reason) is not None
    protected = git_repository._PROTECTED.search(reason) is not None
    assert (raced, protected) == (kind == "raced", kind == "protected")


@pytest.mark.parametrize(
    "stale", ["index.lock", "HEAD.lock", "ORIG_HEAD.lock", "refs/heads/main.lock", "refs/remotes/origin/main.lock"]
)
def test_a_lock_file_left_by_a_killed_git_is_recovered(remote: Path, tmp_path: Path, stale: str) -> None:
    """A git killed mid-write (SIGKILL) leaves ``<file>.lock``; the next command, holding the cache's lock, knows it
    is stale and goes on."""
    repository = open_repository(gitops(remote.as_uri()), cache_dir=tmp_path / "cache")
    text = repository.read(PATH) or ""
    (work,) = (tmp_path / "cache").glob("*/work")
    (work / ".git" / stale).write_text("")
    (work / ".git" / "marker").write_text("still here")

    made = open_repository(gitops(remote.as_uri()), cache_dir=tmp_path / "cache").commit(promotion(text))

    assert made.created
    assert head(remote) == made.sha
    assert (work / ".git" / "marker").exists()  # recovered in place, not cloned again


def test_no_private_error_leaves_the_adapter(remote: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A local git failing unexpectedly is exit 5 naming the cache, and the next command starts from a fresh clone."""
    repository = open_repository(gitops(remote.as_uri()), cache_dir=tmp_path / "cache", token=TOKEN)
    repository.read(PATH)
    commit_staged = GitCliRepository._commit_staged

    def failing(*_args: Any) -> bool:
        raise git_repository._GitFailedError(("commit",), 128, f"fatal: something broke {TOKEN}")

    monkeypatch.setattr(GitCliRepository, "_commit_staged", failing)
    with pytest.raises(DependencyUnavailableError, match="git failed in the cache") as raised:
        repository.commit(promotion(DEPLOYMENT))
    assert TOKEN not in str(raised.value)
    monkeypatch.setattr(GitCliRepository, "_commit_staged", commit_staged)
    assert repository.commit(promotion(DEPLOYMENT)).created


PRIMARY = (  # https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api#exceeding-the-rate-limit
    403,
    {"message": "API rate limit exceeded for installation ID 1234."},
    {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1000030"},
)
SECONDARY = (
    403,
    {"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."},
    {"retry-after": "7"},
)


def test_github_rate_limits_are_waited_out_within_a_bound(github: tuple[str, PullsStandIn]) -> None:
    """A primary (x-ratelimit-remaining: 0, until x-ratelimit-reset) or secondary (retry-after) rate limit is a
    wait, not a missing permission; a wait beyond the bound is exit 5 saying when to try again."""
    api, stand_in = github
    waits: list[float] = []
    pulls = git_repository.GitHubPulls(
        owner="findly-now", repo="deploy", token=TOKEN, api_url=api, sleep=waits.append, clock=lambda: 1000000.0
    )
    stand_in.failures = [PRIMARY, SECONDARY, (429, {"message": "slow down"}, {"retry-after": "2"})]
    assert pulls.find_open("findly/x") is None
    assert waits == [31.0, 7.0, 2.0]

    stand_in.failures = [(*PRIMARY[:2], {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1003600"})]
    with pytest.raises(DependencyUnavailableError, match=r"rate-limits.*resets at 1970-01-12T14:46:40Z"):
        pulls.find_open("findly/x")
    assert waits == [31.0, 7.0, 2.0]  # an hour is not waited

    stand_in.failures = [(403, {"message": "Resource not accessible by integration"}, {})]
    with pytest.raises(BadInputError, match="pull-requests: write"):  # a permission refused is still that
        pulls.find_open("findly/x")


def test_a_repository_url_with_a_password_is_refused_before_anything_is_stored(tmp_path: Path) -> None:
    """git would record it as remote.origin.url in the cache's .git/config (git-config(1), transfer.credentialsInUrl):
    refused, pointing at GITHUB_TOKEN; a user name alone (ssh://git@…) is no secret."""
    url = f"https://x-access-token:{TOKEN}@github.com/findly-now/deploy.git"
    with pytest.raises(BadInputError, match=r"carries a password or token.*GITHUB_TOKEN") as raised:
        open_repository(gitops(url), cache_dir=tmp_path / "cache").read(PATH)
    assert TOKEN not in str(raised.value)
    assert not (tmp_path / "cache").exists()
    GitCliRepository(settings=gitops("ssh://git@github.com/findly-now/deploy.git"), cache_dir=tmp_path / "cache")


def test_digits_in_a_port_are_not_taken_for_a_refusal(tmp_path: Path) -> None:
    """Nothing listens on 127.0.0.1:4013: unreachable (exit 5), although git's message holds "401"."""
    repository = open_repository(gitops("http://127.0.0.1:4013/deploy.git"), cache_dir=tmp_path / "cache")
    with pytest.raises(DependencyUnavailableError, match="cannot be reached"):
        repository.read(PATH)


def test_the_users_own_authorization_header_for_the_host_is_not_sent_beside_the_token(
    refusing_git_server: tuple[str, list[str]], tmp_path: Path, global_git_config: Path
) -> None:
    """A global http.<server>/.extraheader (a common CI recipe) would make git send two Authorization headers, which
    GitHub refuses (400, "Duplicate header"): the adapter's list is reset first, so only the token's goes."""
    url, seen = refusing_git_server
    server = url.split("/findly-now/")[0]
    global_git_config.write_text(f'[http "{server}/"]\n\textraheader = AUTHORIZATION: basic b3RoZXI6b2xk\n')
    repository = open_repository(gitops(url), cache_dir=tmp_path / "cache", token=TOKEN, server_url=server)
    with pytest.raises(BadInputError):
        repository.read(PATH)
    pair = base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()
    assert seen
    assert set(seen) == {f"basic {pair}"}


@pytest.mark.parametrize("offset", [480, 490, 495, 499])
def test_a_secret_across_the_cut_of_a_message_leaks_no_part_of_it(tmp_path: Path, offset: int) -> None:
    """Messages are cut to 500 characters after the secrets are redacted, not before."""
    repository = GitCliRepository(settings=gitops("x"), cache_dir=tmp_path, token=TOKEN)
    said = repository._clean("x" * offset + f" {TOKEN} tail")
    assert TOKEN[:8] not in said
    pulls = git_repository.GitHubPulls(owner="o", repo="r", token=TOKEN)
    refused = pulls._refused(422, {"message": "y" * offset + f" {TOKEN}"}, "opening")
    assert TOKEN[:8] not in str(refused)


def test_a_clone_killed_half_way_leaves_nothing_behind(remote: Path, tmp_path: Path) -> None:
    """A process killed while cloning (SIGKILL: no ``finally``) leaves its staging folder; the next command, holding
    the cache's lock, removes it."""
    repository = open_repository(gitops(remote.as_uri()), cache_dir=tmp_path / "cache")
    repository.read(PATH)
    (folder,) = (tmp_path / "cache").iterdir()
    (folder / "clone-k1ll3d" / "work" / ".git").mkdir(parents=True)

    repository.read(PATH)

    assert sorted(path.name for path in folder.iterdir()) == ["lock", "work"]


def test_a_cache_held_by_another_process_is_waited_for_with_a_bound_and_said(
    remote: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import fcntl

    repository = open_repository(gitops(remote.as_uri()), cache_dir=tmp_path / "cache")
    repository.read(PATH)
    (folder,) = (tmp_path / "cache").iterdir()
    with (folder / "lock").open("a") as held:  # another process's hold (flock: per open file)
        fcntl.flock(held, fcntl.LOCK_EX)
        waiting = attrs.evolve(repository, lock_wait=0.3)
        with pytest.raises(DependencyUnavailableError, match=r"another findly-infra process.*gave up waiting"):
            waiting.read(PATH)
    assert "waiting for another findly-infra process" in caplog.text
    assert repository.read(PATH) == DEPLOYMENT  # released: taken at once


def test_a_file_is_never_written_through_a_symbolic_link_of_the_repository(remote: Path, tmp_path: Path) -> None:
    """Anyone who can push may commit a link (``linked -> ../outside``): a change under it is refused, and nothing
    is written outside the clone."""
    seed = tmp_path / "linker"
    git("clone", "--quiet", remote.as_uri(), str(seed))
    (seed / "linked").symlink_to("../outside")
    git("add", "linked", cwd=seed)
    git("commit", "--quiet", "-m", "a link", cwd=seed)
    git("push", "--quiet", "origin", "HEAD:main", cwd=seed)
    repository = open_repository(gitops(remote.as_uri()), cache_dir=tmp_path / "cache")
    change = GitChange(files={"linked/fn-posts/deployment-stable.yaml": "kind: Deployment\n"}, message="m", key="k")

    with pytest.raises(BadInputError, match="'linked', a symbolic link"):
        repository.commit(change)

    assert not list((tmp_path / "cache").glob("*/outside"))
    assert count(remote) == 2


def test_the_github_server_is_the_one_actions_names(
    refusing_git_server: tuple[str, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GITHUB_SERVER_URL (set by Actions; a GitHub Enterprise Server's own URL there) is where the token goes."""
    url, seen = refusing_git_server
    monkeypatch.setenv("GITHUB_SERVER_URL", url.split("/findly-now/")[0])
    with pytest.raises(BadInputError):
        open_repository(gitops(url), cache_dir=tmp_path / "cache", token=TOKEN).read(PATH)
    assert seen[0] == "basic " + base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()
