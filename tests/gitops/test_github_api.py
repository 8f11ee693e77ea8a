"""The GitHub pulls API stand-in (testing/github_api.py): pull requests opened, listed, read and merged over HTTP,
each merge a real git merge in the bare repository behind ``{owner}/{repo}``."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from findly_infra.testing.github_api import GitHubApiStandIn
from tests.gitops.stand_in_repos import bare, commit, git

FILE = "k8s/overlays/production/fn-posts/deployment-stable.yaml"


@pytest.fixture
def github(tmp_path: Path) -> Iterator[GitHubApiStandIn]:
    repository = bare(tmp_path / "deploy.git")
    commit(repository, {FILE: "image: fn-posts:1.0.0\n", "README.md": "deploy\n"}, "1.0.0")
    commit(repository, {FILE: "image: fn-posts:2.0.0\n"}, "2.0.0", branch="promote/fn-posts-2.0.0", start="main")
    with GitHubApiStandIn() as stand_in:
        stand_in.register("findly-now", "deploy", repository)
        yield stand_in


def call(
    github: GitHubApiStandIn, method: str, path: str, body: Any = None, *, token: str | None = "default"
) -> tuple[int, Any, Any]:
    headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
    if token:
        headers["Authorization"] = f"Bearer {github.token if token == 'default' else token}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{github.url}{path}", data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None, response.headers
    except urllib.error.HTTPError as error:
        raw = error.read()
        return error.code, json.loads(raw) if raw else None, error.headers


PULLS = "/repos/findly-now/deploy/pulls"
OPEN = {"title": "Promote fn-posts 2.0.0 to production", "head": "promote/fn-posts-2.0.0", "base": "main"}


def repository(github: GitHubApiStandIn) -> Path:
    return github.repositories[("findly-now", "deploy")].path


def test_a_pull_request_is_opened_read_and_listed(github: GitHubApiStandIn) -> None:
    status, pull, headers = call(github, "POST", PULLS, {**OPEN, "head": "findly-now:promote/fn-posts-2.0.0"})
    assert status == 201
    assert pull["number"] == 1
    assert pull["state"] == "open"
    assert pull["html_url"] == f"{github.url}/findly-now/deploy/pull/1"
    assert headers["Location"] == pull["url"]
    assert pull["head"]["ref"] == "promote/fn-posts-2.0.0"
    assert pull["head"]["label"] == "findly-now:promote/fn-posts-2.0.0"
    assert pull["head"]["sha"] == git("--git-dir", str(repository(github)), "rev-parse", "promote/fn-posts-2.0.0")
    assert pull["base"]["ref"] == "main"
    assert (pull["mergeable"], pull["mergeable_state"]) == (None, "unknown")  # computed in the background
    status, read, _ = call(github, "GET", f"{PULLS}/1")
    assert (status, read["number"], read["merged"], read["mergeable"]) == (200, 1, False, True)
    status, listed, _ = call(github, "GET", f"{PULLS}?head=findly-now:promote/fn-posts-2.0.0&state=open")
    assert (status, [p["number"] for p in listed]) == (200, [1])
    assert call(github, "GET", f"{PULLS}?head=findly-now:other&state=open")[1] == []
    # GitHub ignores a head without its owner: every open pull request is listed, this one or not
    commit(repository(github), {"README.md": "other\n"}, "other", branch="other", start="main")
    assert call(github, "POST", PULLS, {**OPEN, "head": "other"})[0] == 201
    assert [p["number"] for p in call(github, "GET", f"{PULLS}?head=other")[1]] == [2, 1]
    assert call(github, "GET", f"{PULLS}?state=closed")[1] == []
    assert call(github, "GET", f"{PULLS}/7")[0] == 404


def test_a_second_pull_request_for_the_same_head_is_refused(github: GitHubApiStandIn) -> None:
    assert call(github, "POST", PULLS, OPEN)[0] == 201
    status, body, _ = call(github, "POST", PULLS, OPEN)
    assert status == 422
    assert body["message"] == "Validation Failed"
    assert body["errors"] == [
        {
            "resource": "PullRequest",
            "code": "custom",
            "message": "A pull request already exists for findly-now:promote/fn-posts-2.0.0.",
        }
    ]


def test_a_head_with_nothing_new_or_a_missing_branch_is_refused(github: GitHubApiStandIn) -> None:
    status, body, _ = call(github, "POST", PULLS, {**OPEN, "head": "main"})
    assert status == 422
    assert body["errors"][0]["message"] == "No commits between main and main"
    status, body, _ = call(github, "POST", PULLS, {**OPEN, "head": "no-such-branch"})
    assert status == 422
    assert body["errors"] == [{"resource": "PullRequest", "field": "head", "code": "invalid"}]
    status, body, _ = call(github, "POST", PULLS, {"head": "promote/fn-posts-2.0.0"})
    assert status == 422
    assert {e["field"] for e in body["errors"]} == {"title", "base"}


def test_credentials_and_unknown_repositories(github: GitHubApiStandIn) -> None:
    assert call(github, "POST", PULLS, OPEN, token=None)[0] == 404  # private: not confirmed to exist
    assert call(github, "POST", PULLS, OPEN, token="ghp_wrong")[:2] == (
        401,
        {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"},
    )
    assert call(github, "GET", "/repos/findly-now/other/pulls")[0] == 404
    github.register("findly-now", "public", repository(github), private=False)
    status, body, _ = call(github, "POST", "/repos/findly-now/public/pulls", OPEN, token=None)
    assert (status, body["message"]) == (401, "Requires authentication")
    assert call(github, "GET", "/repos/findly-now/public/pulls", token=None)[0] == 200


def test_a_merge_commit_moves_the_base_in_the_repository(github: GitHubApiStandIn) -> None:
    call(github, "POST", PULLS, OPEN)
    before = git("--git-dir", str(repository(github)), "rev-parse", "main")
    head = git("--git-dir", str(repository(github)), "rev-parse", "promote/fn-posts-2.0.0")
    status, body, _ = call(github, "PUT", f"{PULLS}/1/merge", {"merge_method": "merge", "sha": head})
    assert status == 200
    assert body["merged"] is True
    assert body["message"] == "Pull Request successfully merged"
    main = git("--git-dir", str(repository(github)), "rev-parse", "main")
    assert main == body["sha"]
    assert git("--git-dir", str(repository(github)), "rev-parse", f"{main}^1", f"{main}^2").split() == [before, head]
    assert git("--git-dir", str(repository(github)), "show", f"main:{FILE}") == "image: fn-posts:2.0.0"
    subject = git("--git-dir", str(repository(github)), "log", "-1", "--format=%s", "main")
    assert subject == "Merge pull request #1 from findly-now/promote/fn-posts-2.0.0"
    read = call(github, "GET", f"{PULLS}/1")[1]
    assert (read["state"], read["merged"], read["merge_commit_sha"]) == ("closed", True, main)
    assert call(github, "GET", f"{PULLS}/1/merge")[0] == 204
    status, body, _ = call(github, "PUT", f"{PULLS}/1/merge", {})
    assert (status, body["message"]) == (405, "Pull Request is not mergeable")
    assert call(github, "GET", f"{PULLS}?head=findly-now:promote/fn-posts-2.0.0&state=open")[1] == []


def test_a_squash_merge_is_one_commit_on_the_base(github: GitHubApiStandIn) -> None:
    call(github, "POST", PULLS, OPEN)
    before = git("--git-dir", str(repository(github)), "rev-parse", "main")
    status = call(github, "PUT", f"{PULLS}/1/merge", {"merge_method": "squash"})[0]
    assert status == 200
    parents = git("--git-dir", str(repository(github)), "log", "-1", "--format=%P", "main")
    assert parents == before
    subject = git("--git-dir", str(repository(github)), "log", "-1", "--format=%s", "main")
    assert subject == "Promote fn-posts 2.0.0 to production (#1)"


def test_a_rebase_merge_replays_the_commits(github: GitHubApiStandIn) -> None:
    commit(repository(github), {"README.md": "deploy, moved on\n"}, "main moves on")
    call(github, "POST", PULLS, OPEN)
    status = call(github, "PUT", f"{PULLS}/1/merge", {"merge_method": "rebase"})[0]
    assert status == 200
    assert git("--git-dir", str(repository(github)), "log", "-1", "--format=%s%x00%an", "main") == "2.0.0\x00Test"
    assert git("--git-dir", str(repository(github)), "show", "main:README.md") == "deploy, moved on"
    assert git("--git-dir", str(repository(github)), "show", f"main:{FILE}") == "image: fn-posts:2.0.0"


def test_a_merge_is_refused_when_the_head_moved_or_conflicts(github: GitHubApiStandIn) -> None:
    call(github, "POST", PULLS, OPEN)
    status, body, _ = call(github, "PUT", f"{PULLS}/1/merge", {"sha": "0" * 40})
    assert (status, body["message"]) == (409, "Head branch was modified. Review and try the merge again.")
    commit(repository(github), {FILE: "image: fn-posts:1.5.0\n"}, "1.5.0 straight on main")
    assert call(github, "GET", f"{PULLS}/1")[1]["mergeable"] is False
    status, body, _ = call(github, "PUT", f"{PULLS}/1/merge", {})
    assert (status, body["message"]) == (405, "Pull Request is not mergeable")
    assert call(github, "PUT", f"{PULLS}/1/merge", {"merge_method": "octopus"})[0] == 422


def test_a_merge_refuses_a_base_that_moved_under_it(tmp_path: Path) -> None:
    """A push to the base between the mergeability check and the merge (another merge, a person): GitHub's 409."""
    repository = bare(tmp_path / "deploy.git")
    commit(repository, {FILE: "image: fn-posts:1.0.0\n"}, "1.0.0")
    commit(repository, {FILE: "image: fn-posts:2.0.0\n"}, "2.0.0", branch="promote/fn-posts-2.0.0", start="main")

    class Racing(GitHubApiStandIn):
        def _mergeable(self, *args: Any) -> bool:
            mergeable = super()._mergeable(*args)
            if self.requests[-1][0] == "PUT":
                commit(repository, {"README.md": "pushed meanwhile\n"}, "a push to main")
            return mergeable

    with Racing() as github:
        github.register("findly-now", "deploy", repository)
        call(github, "POST", PULLS, OPEN)
        before = git("--git-dir", str(repository), "rev-parse", "promote/fn-posts-2.0.0")
        status, body, _ = call(github, "PUT", f"{PULLS}/1/merge", {})
        assert (status, body["message"]) == (409, "Base branch was modified. Review and try the merge again.")
        assert git("--git-dir", str(repository), "log", "-1", "--format=%s", "main") == "a push to main"
        assert call(github, "GET", f"{PULLS}/1")[1]["state"] == "open"
        assert git("--git-dir", str(repository), "rev-parse", "promote/fn-posts-2.0.0") == before
