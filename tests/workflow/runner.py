"""A GitHub runner for the release workflow, faithful where the workflow's correctness depends on it.

What it does as GitHub does (each rule from GitHub's documentation, cited where it is kept):

- **Events**: a push of a branch, a push to the default branch, ``workflow_dispatch`` naming a ref and its inputs,
  ``schedule`` (which runs on the default branch's latest commit). ``github.*`` and the ``GITHUB_*`` variables are
  the event's (https://docs.github.com/actions/reference/workflows-and-actions/variables), and ``github.event`` its
  payload (``repository.default_branch`` in a push's and a dispatch's; a schedule's holds ``schedule`` alone).
- **Jobs**: in the order their ``needs:`` allow; a job whose ``needs`` did not all succeed is skipped (its ``if:``
  is ``success() && …`` unless it says otherwise); each job is a FRESH process environment: the runner's default
  variables, the workflow's, the job's and the step's ``env:`` and nothing else of the test's process (``PATH`` is a
  runner's system path) — ``secrets.*`` and ``vars.*`` from the test's dicts, an absent one the empty string as GitHub
  gives it; a fresh ``git clone`` of a real local repository for each ``actions/checkout`` at the event's commit (or
  the ``ref:`` it names), a fresh ``$HOME`` and ``$RUNNER_TEMP`` (hosted runners share one path, so a cached venv
  restores where it was made; here each job has its own, kept for the session, so that a restored venv's scripts
  still find the interpreter they name).
- **Steps**: ``run:`` by ``bash -e {0}`` (no ``shell:``) or ``bash --noprofile --norc -eo pipefail {0}``
  (``shell: bash``), in ``$GITHUB_WORKSPACE``; ``$GITHUB_OUTPUT`` (``k=v`` and ``k<<DELIMITER`` forms),
  ``$GITHUB_ENV``, ``$GITHUB_PATH`` and ``$GITHUB_STEP_SUMMARY`` files per step; ``if:`` with the status functions;
  ``steps.<id>.outputs``/``outcome``; job ``outputs:`` into ``needs.<job>.outputs``.
- **Our Action** (``findly-now/findly-infra@…`` or ``./``): run from ``action.yml``'s composite steps, its inputs
  with their defaults, ``$GITHUB_ACTION_PATH`` a copy of this repository's source, its outputs mapped as declared.
  It installs findly-infra into a real fresh venv; PyPI is stood in by the wheelhouse (``PIP_NO_INDEX``,
  ``PIP_FIND_LINKS``: the one thing of the test's making in a job's environment).
- **Concurrency**: one running and one pending job per group; a newer pending job cancels the older pending one
  (https://docs.github.com/actions/writing-workflows/choosing-what-your-workflow-does/control-the-concurrency-of-workflows-and-jobs:
  "any existing pending job or workflow in the same concurrency group … will be canceled and the new queued job or
  workflow will take its place"); with ``queue: max`` (not with ``cancel-in-progress: true``) up to 100 pending
  jobs per group wait and run in the order they came, none cancelled
  (https://github.blog/changelog/2026-05-07-github-actions-concurrency-groups-now-allow-larger-queues: "queue
  multiple pending runs and process them sequentially, with support for up to 100 queued jobs or workflow runs per
  concurrency group"; what GitHub does with a 101st is not modelled: the harness fails the test). Runs started
  together run in threads.
- **OIDC**: a job with ``permissions: id-token: write`` (its own, else the workflow's) and only such a job gets
  ``ACTIONS_ID_TOKEN_REQUEST_URL``/``_TOKEN`` from GitHub's OIDC stand-in, its claims the run's (actor, repository,
  workflow file and ref, run, and the job's ``environment:``).
- **Services**: a PostgreSQL service container is a fresh database of the test's real server, its
  ``localhost:PORT`` URL in the job's environment pointed at it (the old workflow's fallback).

Stood in, and said so:

- ``actions/setup-python``: the session's "tool cache" Python (a venv of the Python running the tests, with pip and
  pytest), ``python-path``/``python-version`` as outputs, its ``bin`` on ``PATH`` unless ``update-environment: false``.
- ``actions/cache``: a store for the session (hard-linked copies), restored at the step, saved after the job when
  the key missed and the job succeeded (its action.yml: ``post-if: success()``), keys immutable; a key with a comma
  or longer than 512 characters fails the step as the real one does (@actions/cache ``src/cache.ts``, ``checkKey``:
  "Key Validation Error: … cannot contain commas." / "… cannot be larger than 512 characters."; actions/cache
  ``src/restoreImpl.ts`` rethrows a ValidationError and ``setFailed``s). GitHub's scoping of caches by branch and
  ``restore-keys`` are not kept.
- ``google-github-actions/auth``: fails without an OIDC token request variable (as the real one does), else
  nothing: there is no Google here. ``get-gke-credentials``: a kubeconfig for the Kubernetes stand-in
  (``findly_infra.testing.kubernetes``) when the test gives one, its context named ``gke_PROJECT_LOCATION_CLUSTER`` as
  the real action names it, ``KUBECONFIG`` exported; else the step fails.
- ``docker/login-action``, ``setup-buildx-action``, ``build-push-action``: the tags pushed are recorded
  (``Runner.pushed``); nothing is built.
- Any other ``uses:`` fails the step, so that nothing is skipped silently.
"""

from __future__ import annotations

import itertools
import json
import platform
import shutil
import subprocess
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.workflow.expressions import condition, interpolate, to_string

__all__ = ["Event", "JobResult", "RunResult", "Runner"]

SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
REPOSITORY = "findly-now/services"
OUR_ACTION = "findly-now/findly-infra"


@dataclass
class Event:
    name: str
    ref: str
    sha: str
    actor: str = "erin"
    inputs: dict[str, str] = field(default_factory=dict)


@dataclass
class JobResult:
    name: str
    result: str = "skipped"
    """success, failure, cancelled or skipped, as ``needs.<job>.result``."""
    outputs: dict[str, str] = field(default_factory=dict)
    log: list[tuple[str, int, str]] = field(default_factory=list)
    """Each step run: its name, exit code, and what it wrote (stdout and stderr)."""
    environment: dict[str, str] = field(default_factory=dict)
    """The process environment its first ``run:`` step saw (before steps changed it)."""

    def text(self) -> str:
        return "\n".join(f"--- {name}: exit {code}\n{out}" for name, code, out in self.log)


@dataclass
class RunResult:
    event: Event
    jobs: dict[str, JobResult]

    def results(self) -> dict[str, str]:
        return {name: job.result for name, job in self.jobs.items()}

    def text(self) -> str:
        return "\n".join(f"=== {name}: {job.result}\n{job.text()}" for name, job in self.jobs.items())


class _Concurrency:
    """One running and one pending job per group, a newer pending job cancelling the older pending one; or, for a
    group with ``queue: max``, up to 100 pending jobs run first come, first served (see the module's documentation)."""

    QUEUE_MAX = 100

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._running: dict[str, object] = {}
        self._pending: dict[str, object] = {}
        self._queues: dict[str, list[object]] = {}
        self._cancelled: set[int] = set()
        self.started: list[tuple[str, str]] = []
        """(group, job label) in the order each job got its group."""
        self.arrived: list[tuple[str, str]] = []
        """(group, job label) in the order each job asked for it."""

    def acquire(self, group: str, ticket: object, *, queue: bool = False, label: str = "") -> bool:
        with self._lock:
            self.arrived.append((group, label))
            if group not in self._running and not self._queues.get(group):
                self._running[group] = ticket
                self.started.append((group, label))
                return True
            if queue:
                waiting = self._queues.setdefault(group, [])
                if len(waiting) >= self.QUEUE_MAX:
                    raise AssertionError(f"more than {self.QUEUE_MAX} pending jobs in {group}: not modelled")
                waiting.append(ticket)
                while group in self._running or waiting[0] is not ticket:
                    self._lock.wait()
                waiting.pop(0)
                self._running[group] = ticket
                self.started.append((group, label))
                self._lock.notify_all()
                return True
            older = self._pending.get(group)
            if older is not None:
                self._cancelled.add(id(older))
            self._pending[group] = ticket
            self._lock.notify_all()
            while True:
                if id(ticket) in self._cancelled:
                    return False
                if group not in self._running and self._pending.get(group) is ticket:
                    del self._pending[group]
                    self._running[group] = ticket
                    self.started.append((group, label))
                    return True
                self._lock.wait()

    def release(self, group: str) -> None:
        with self._lock:
            del self._running[group]
            self._lock.notify_all()


class _Cache:
    """actions/cache, stood in: immutable keys, hard-linked copies (see the module's documentation)."""

    def __init__(self, store: Path) -> None:
        self.store = store
        self.lock = threading.Lock()
        self.hits: list[str] = []
        self.saved: list[str] = []

    def _folder(self, key: str) -> Path:
        return self.store / uuid.uuid5(uuid.NAMESPACE_URL, key).hex

    def restore(self, key: str, path: Path) -> bool:
        with self.lock:
            saved = self._folder(key)
            if not saved.exists():
                return False
            if path.exists():
                shutil.rmtree(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(["cp", "-al", str(saved), str(path)], check=True)
            self.hits.append(key)
            return True

    def save(self, key: str, path: Path) -> None:
        with self.lock:
            saved = self._folder(key)
            if saved.exists() or not path.exists():
                return
            subprocess.run(["cp", "-al", str(path), str(saved)], check=True)
            self.saved.append(key)


@dataclass
class _Job:
    """What one job's steps share: its environment, files, steps' results and posts."""

    name: str
    env: dict[str, str]
    workspace: Path
    files: Path
    context: dict[str, Any]
    result: JobResult
    path_entries: list[str] = field(default_factory=list)
    posts: list[Callable[[], None]] = field(default_factory=list)
    failed: bool = False
    """Whether a step of the job failed (the status a post step's ``post-if: success()`` reads)."""
    counter: itertools.count[int] = field(default_factory=itertools.count)


class Runner:
    """Runs a workflow's jobs for events (see the module's documentation)."""

    def __init__(
        self,
        workflow: Path | str,
        repository: Path,
        work: Path,
        *,
        action_path: Path,
        python: Path,
        pip_env: Mapping[str, str],
        secrets: Mapping[str, str] | None = None,
        variables: Mapping[str, str] | None = None,
        oidc: Any = None,
        accounts: Mapping[str, str] | None = None,
        postgres: Any = None,
        kubeconfig: Callable[[str], dict[str, Any]] | None = None,
        default_branch: str = "main",
    ) -> None:
        text = workflow.read_text() if isinstance(workflow, Path) else workflow
        self.workflow: dict[str, Any] = yaml.safe_load(text)
        self.workflow_file = ".github/workflows/release.yml"
        self.repository = repository
        self.work = work
        self.action_path = action_path
        self.python = python
        self.pip_env = dict(pip_env)
        self.secrets = dict(secrets or {})
        self.vars = dict(variables or {})
        self.oidc = oidc
        self.oidc_lock = threading.Lock()
        self.accounts = dict(accounts or {})
        self.postgres = postgres
        self.kubeconfig = kubeconfig
        self.default_branch = default_branch
        self.concurrency = _Concurrency()
        self.cache = _Cache(work / "cache")
        self.cache.store.mkdir(parents=True, exist_ok=True)
        self.pushed: list[str] = []
        self.runs = itertools.count(1)
        self.action = yaml.safe_load((action_path / "action.yml").read_text())

    # ---- events -------------------------------------------------------------------------------------------------

    def run(self, event: Event) -> RunResult:
        """One workflow run for *event*, to its end."""
        number = next(self.runs)
        payload: dict[str, Any]
        if event.name == "schedule":
            payload = {"schedule": "*/5 * * * *"}
        else:
            payload = {
                "repository": {"full_name": REPOSITORY, "default_branch": self.default_branch},
                "sender": {"login": event.actor},
            }
            if event.name == "workflow_dispatch":
                payload["inputs"] = event.inputs
                payload["ref"] = event.ref
            else:
                payload.update(ref=event.ref, after=event.sha)
        inputs = self._inputs(event)
        github = {
            "event_name": event.name,
            "event": payload,
            "ref": event.ref,
            "ref_name": event.ref.rsplit("/", 1)[-1] if event.ref.startswith("refs/heads/") else event.ref,
            "ref_type": "branch",
            "sha": event.sha,
            "actor": event.actor,
            "triggering_actor": event.actor,
            "repository": REPOSITORY,
            "repository_owner": REPOSITORY.split("/", maxsplit=1)[0],
            "run_id": str(4000 + number),
            "run_number": str(number),
            "run_attempt": "1",
            "workflow": self.workflow.get("name", ""),
            "workflow_ref": f"{REPOSITORY}/{self.workflow_file}@{event.ref}",
            "server_url": "https://github.com",
            "api_url": "https://api.github.com",
        }
        base = {"github": github, "inputs": inputs, "secrets": self._secrets(), "vars": self.vars}
        jobs: dict[str, JobResult] = {}
        pending = dict(self.workflow["jobs"])
        while pending:
            for name, job in list(pending.items()):
                needs = job.get("needs", [])
                needs = [needs] if isinstance(needs, str) else list(needs)
                if any(n not in jobs for n in needs):
                    continue
                del pending[name]
                needs_context = {n: {"result": jobs[n].result, "outputs": jobs[n].outputs} for n in needs}
                context = {**base, "needs": needs_context, "env": {}}
                status = {
                    "success": all(jobs[n].result == "success" for n in needs),
                    "failure": any(jobs[n].result == "failure" for n in needs),
                    "cancelled": False,
                }
                try:
                    wanted = condition(job.get("if"), context, status)
                except ValueError as error:
                    raise AssertionError(f"job {name}: {error}") from error
                if not wanted:
                    jobs[name] = JobResult(name)
                    continue
                jobs[name] = self._job(name, job, context, number)
        return RunResult(event, jobs)

    def run_together(self, *events: Event) -> list[RunResult]:
        """Runs started at the same time (each in a thread, as GitHub runs them on runners of their own)."""
        results: list[RunResult | None] = [None] * len(events)
        errors: list[BaseException] = []

        def go(index: int, event: Event) -> None:
            try:
                results[index] = self.run(event)
            except BaseException as error:  # noqa: BLE001 - handed to the test's thread
                errors.append(error)

        threads = [threading.Thread(target=go, args=(i, e)) for i, e in enumerate(events)]
        for thread in threads:
            thread.start()
            thread.join(0.3)  # started in this order: GitHub queues them as they arrive
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        return [r for r in results if r is not None]

    def _inputs(self, event: Event) -> dict[str, Any]:
        if event.name != "workflow_dispatch":
            return {}
        triggers: Any = self.workflow.get("on") or dict(self.workflow).get(True) or {}  # type: ignore[call-overload]
        declared = triggers.get("workflow_dispatch") or {}  # PyYAML reads the key `on:` as True (YAML 1.1)
        values: dict[str, Any] = {}
        for name, spec in (declared.get("inputs") or {}).items():
            value = event.inputs.get(name, spec.get("default", ""))
            if spec.get("type") == "choice" and value not in spec.get("options", []):
                raise AssertionError(f"GitHub refuses the dispatch: input {name} must be one of {spec['options']}")
            values[name] = value
        return values

    def _secrets(self) -> dict[str, str]:
        return {"GITHUB_TOKEN": "ghs_stand-in", **self.secrets}

    # ---- jobs ---------------------------------------------------------------------------------------------------

    def _job(self, name: str, job: dict[str, Any], context: dict[str, Any], number: int) -> JobResult:
        group = None
        queue = False
        if "concurrency" in job:
            spec = job["concurrency"]
            group = interpolate(spec["group"] if isinstance(spec, dict) else spec, context)
            queue = isinstance(spec, dict) and spec.get("queue") == "max"
            if queue and spec.get("cancel-in-progress") is True:
                raise AssertionError(f"job {name}: GitHub refuses queue: max with cancel-in-progress: true")
        ticket = object()
        label = f"{context['github']['ref']}:{name}"
        if group is not None and not self.concurrency.acquire(group, ticket, queue=queue, label=label):
            return JobResult(name, "cancelled")
        try:
            return self._run_job(name, job, context, number)
        finally:
            if group is not None:
                self.concurrency.release(group)

    def _run_job(self, name: str, job: dict[str, Any], context: dict[str, Any], number: int) -> JobResult:
        github = context["github"]
        stamp = f"{number}-{name}-{uuid.uuid4().hex[:6]}"
        home = self.work / "runners" / stamp
        workspace = home / "work" / "services"
        files = home / "files"
        for folder in (workspace, files, home / "home"):
            folder.mkdir(parents=True)
        # a fresh temp folder. GitHub's hosted runners all have the same one (/home/runner/work/_temp), so a venv
        # restored from the cache is where it was made; here each job has its own, and the folders are kept for the
        # session, so that a restored venv's scripts still find the interpreter they name
        temp = home / "_temp"
        temp.mkdir()
        event_path = files / "event.json"
        event_path.write_text(json.dumps(github["event"]))
        environment = str(job.get("environment", "") or "")
        if isinstance(job.get("environment"), dict):
            environment = job["environment"]["name"]
        env: dict[str, str] = {
            "PATH": SYSTEM_PATH,
            "HOME": str(home / "home"),
            "LANG": "C.UTF-8",
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_NAME": github["event_name"],
            "GITHUB_EVENT_PATH": str(event_path),
            "GITHUB_REF": github["ref"],
            "GITHUB_REF_NAME": github["ref_name"],
            "GITHUB_REF_TYPE": "branch",
            "GITHUB_SHA": github["sha"],
            "GITHUB_ACTOR": github["actor"],
            "GITHUB_ACTOR_ID": self.accounts.get(github["actor"], "1"),
            "GITHUB_TRIGGERING_ACTOR": github["actor"],
            "GITHUB_REPOSITORY": REPOSITORY,
            "GITHUB_REPOSITORY_OWNER": REPOSITORY.split("/", maxsplit=1)[0],
            "GITHUB_RUN_ID": github["run_id"],
            "GITHUB_RUN_NUMBER": github["run_number"],
            "GITHUB_RUN_ATTEMPT": "1",
            "GITHUB_WORKFLOW": github["workflow"],
            "GITHUB_WORKFLOW_REF": github["workflow_ref"],
            "GITHUB_JOB": name,
            "GITHUB_WORKSPACE": str(workspace),
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_API_URL": "https://api.github.com",
            "RUNNER_OS": "Linux",
            "RUNNER_ARCH": "X64",
            "RUNNER_TEMP": str(temp),
            "ImageOS": "ubuntu24",
            **self.pip_env,
        }
        result = JobResult(name, "success")
        state = _Job(name, env, workspace, files, {**context, "steps": {}, "job": {}}, result)
        state.context["runner"] = {"os": "Linux", "arch": "X64", "temp": str(temp)}
        for key, value in (self.workflow.get("env") or {}).items():
            env[key] = interpolate(value, {**state.context, "env": dict(env)})
        for key, value in (job.get("env") or {}).items():
            env[key] = interpolate(value, {**state.context, "env": dict(env)})
        self._services(job, env)
        permissions = job.get("permissions", self.workflow.get("permissions"))
        may_ask = isinstance(permissions, dict) and permissions.get("id-token") == "write"
        if may_ask and self.oidc is None:  # no issuer in this test: the variables, whose endpoint nothing serves
            env["ACTIONS_ID_TOKEN_REQUEST_URL"] = "http://127.0.0.1:9/no-issuer-in-this-test?api-version=2.0"
            env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = "stand-in"
        if may_ask and self.oidc is not None:
            with self.oidc_lock:
                env.update(
                    self.oidc.job(
                        actor=github["actor"],
                        actor_id=self.accounts.get(github["actor"], "1"),
                        repository=REPOSITORY,
                        ref=github["ref"],
                        workflow_ref=github["workflow_ref"],
                        run_id=github["run_id"],
                        environment=environment,
                    )
                )
        result.environment = dict(env)
        failed = False
        for step in job["steps"]:
            status = {"success": not failed, "failure": failed, "cancelled": False}
            ok = self._step(state, step, status, state.context["steps"], action=None)
            failed = failed or not ok
        state.failed = failed
        for post in reversed(state.posts):
            post()
        result.result = "failure" if failed else "success"
        context_after = {**state.context, "env": dict(state.env)}
        result.outputs = {k: interpolate(v, context_after) for k, v in (job.get("outputs") or {}).items()}
        return result

    def _services(self, job: dict[str, Any], env: dict[str, str]) -> None:
        for service in (job.get("services") or {}).values():
            image = str(service.get("image", ""))
            if not image.startswith("postgres"):
                raise AssertionError(f"no stand-in for the service {image}")
            if self.postgres is None:
                raise AssertionError("a PostgreSQL service, and no server given to the runner")
            spec = service.get("env", {})
            url = self.postgres.url(f"service_{uuid.uuid4().hex[:10]}")
            (host_port,) = [str(p).split(":")[0] for p in service.get("ports", [])]
            user, password, database = spec.get("POSTGRES_USER"), spec.get("POSTGRES_PASSWORD"), spec.get("POSTGRES_DB")
            mine = f"{user}:{password}@localhost:{host_port}/{database}"
            for key, value in env.items():
                if mine in value:
                    env[key] = value.replace(f"postgresql://{mine}", url.split("?")[0]).replace("?sslmode=disable", "")

    # ---- steps --------------------------------------------------------------------------------------------------

    def _step(
        self,
        job: _Job,
        step: dict[str, Any],
        status: dict[str, bool],
        steps: dict[str, Any],
        action: dict[str, Any] | None,
    ) -> bool:
        """Runs *step*; False when it failed. *action* is the composite action's context, or None in the workflow."""
        base = job.context if action is None else action
        context = {**base, "env": dict(job.env), "steps": steps}
        if not condition(step.get("if"), context, status):
            if "id" in step:
                steps[step["id"]] = {"outcome": "skipped", "conclusion": "skipped", "outputs": {}}
            return True
        name = str(step.get("name") or step.get("uses") or step.get("id") or "run")
        step_env = {k: interpolate(v, context) for k, v in (step.get("env") or {}).items()}
        outputs: dict[str, str]
        if "uses" in step:
            with_ = {k: interpolate(v, context) for k, v in (step.get("with") or {}).items()}
            code, outputs, text = self._uses(job, str(step["uses"]), with_, step_env)
        else:
            code, outputs, text = self._run(job, interpolate(step["run"], context), step, step_env)
        job.result.log.append((name, code, text))
        if "id" in step:
            outcome = "success" if code == 0 else "failure"
            steps[step["id"]] = {"outcome": outcome, "conclusion": outcome, "outputs": outputs}
        return code == 0

    def _files(self, job: _Job) -> dict[str, Path]:
        n = next(job.counter)
        files = {
            name: job.files / f"{name.lower()}-{n}"
            for name in ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH", "GITHUB_STEP_SUMMARY")
        }
        for path in files.values():
            path.write_text("")
        return files

    def _process_env(self, job: _Job, extra: Mapping[str, str], files: Mapping[str, Path]) -> dict[str, str]:
        env = {**job.env, **extra, **{k: str(v) for k, v in files.items()}}
        env["PATH"] = ":".join([*reversed(job.path_entries), env["PATH"]])
        return env

    def _collect(self, job: _Job, files: Mapping[str, Path]) -> dict[str, str]:
        job.env.update(_read_pairs(files["GITHUB_ENV"].read_text()))
        job.path_entries.extend(line for line in files["GITHUB_PATH"].read_text().splitlines() if line.strip())
        return _read_pairs(files["GITHUB_OUTPUT"].read_text())

    def _run(
        self, job: _Job, script: str, step: dict[str, Any], step_env: Mapping[str, str], cwd: Path | None = None
    ) -> tuple[int, dict[str, str], str]:
        files = self._files(job)
        path = job.files / f"step-{next(job.counter)}.sh"
        path.write_text(script)
        shell = step.get("shell")
        if shell is None:
            command = ["bash", "-e", str(path)]
        elif shell == "bash":
            command = ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(path)]
        else:
            raise AssertionError(f"the shell {shell} is not kept by this harness")
        env = self._process_env(job, step_env, files)
        run = subprocess.run(
            command,
            cwd=cwd or job.workspace / str(step.get("working-directory", "")),
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        return run.returncode, self._collect(job, files), run.stdout + run.stderr

    # ---- uses: --------------------------------------------------------------------------------------------------

    def _uses(
        self, job: _Job, uses: str, with_: dict[str, str], step_env: Mapping[str, str]
    ) -> tuple[int, dict[str, str], str]:
        name = uses.split("@", 1)[0]
        if uses == "./" or name == OUR_ACTION:
            return self._our_action(job, with_, step_env)
        stand_ins: dict[str, Callable[[_Job, dict[str, str]], tuple[int, dict[str, str], str]]] = {
            "actions/checkout": self._checkout,
            "actions/setup-python": self._setup_python,
            "actions/cache": self._actions_cache,
            "google-github-actions/auth": self._google_auth,
            "google-github-actions/get-gke-credentials": self._gke_credentials,
            "docker/login-action": lambda _job, w: (0, {}, f"logged in to {w.get('registry')} (stood in)"),
            "docker/setup-buildx-action": lambda _job, _with: (0, {}, "buildx (stood in)"),
            "docker/build-push-action": self._build_push,
        }
        if name not in stand_ins:
            return 1, {}, f"no stand-in for {uses}"
        return stand_ins[name](job, with_)

    def _checkout(self, job: _Job, with_: dict[str, str]) -> tuple[int, dict[str, str], str]:
        github = job.context["github"]
        target = job.workspace / with_.get("path", "")
        ref = with_.get("ref") or github["sha"]
        if target.exists() and target != job.workspace:
            shutil.rmtree(target)
        target.mkdir(parents=True, exist_ok=True)
        clone = subprocess.run(
            ["git", "clone", "--quiet", "--no-checkout", str(self.repository), str(target)],
            capture_output=True,
            text=True,
            check=False,
        )
        if clone.returncode:
            return clone.returncode, {}, clone.stderr
        for candidate in (ref, f"origin/{ref}"):
            checkout = subprocess.run(
                ["git", "-C", str(target), "checkout", "--quiet", "--detach", candidate],
                capture_output=True,
                text=True,
                check=False,
            )
            if checkout.returncode == 0:
                break
        return checkout.returncode, {}, checkout.stderr or f"checked out {ref} into {target}"

    def _setup_python(self, job: _Job, with_: dict[str, str]) -> tuple[int, dict[str, str], str]:
        version = platform.python_version()
        wanted = with_.get("python-version", "")
        if wanted and not version.startswith(wanted):
            return 1, {}, f"this harness has Python {version}, not {wanted}"
        if with_.get("update-environment", "true") != "false":
            job.path_entries.append(str(self.python.parent))
            job.env["pythonLocation"] = str(self.python.parent.parent)
        return 0, {"python-version": version, "python-path": str(self.python)}, f"Python {version} (stood in)"

    def _actions_cache(self, job: _Job, with_: dict[str, str]) -> tuple[int, dict[str, str], str]:
        key, path = with_["key"], Path(with_["path"])
        # @actions/cache checkKey (src/cache.ts), called by restoreCache: a ValidationError fails the step
        if len(key) > 512:
            return 1, {}, f"Error: Key Validation Error: {key} cannot be larger than 512 characters."
        if "," in key:
            return 1, {}, f"Error: Key Validation Error: {key} cannot contain commas."
        hit = self.cache.restore(key, path)
        if not hit:
            # actions/cache's action.yml: `post: dist/save/index.js`, `post-if: success()` (the job's status then)
            job.posts.append(lambda: None if job.failed else self.cache.save(key, path))
        return 0, {"cache-hit": "true" if hit else "false"}, f"cache {'hit' if hit else 'miss'}: {key}"

    def _google_auth(self, job: _Job, with_: dict[str, str]) -> tuple[int, dict[str, str], str]:
        if not job.env.get("ACTIONS_ID_TOKEN_REQUEST_URL"):
            # the real action: "GitHub Actions did not inject $ACTIONS_ID_TOKEN_REQUEST_TOKEN or
            # $ACTIONS_ID_TOKEN_REQUEST_URL into this job" (google-github-actions/auth, src/main.ts)
            return 1, {}, "the job has no id-token: write permission: no OIDC token for Workload Identity Federation"
        if not with_.get("workload_identity_provider"):
            return 1, {}, "workload_identity_provider is required"
        job.env["GOOGLE_GHA_CREDS_PATH"] = str(job.files / "gcp-credentials.json")
        return 0, {"access_token": "ya29.stand-in", "project_id": "findly-now"}, "authenticated (stood in)"

    def _gke_credentials(self, job: _Job, with_: dict[str, str]) -> tuple[int, dict[str, str], str]:
        if self.kubeconfig is None:
            return 1, {}, "no cluster stand-in given to the runner"
        if "GOOGLE_GHA_CREDS_PATH" not in job.env:
            return 1, {}, "no credentials: google-github-actions/auth must run first"
        # the context as the real action names it: gke_PROJECT_LOCATION_CLUSTER (get-gke-credentials, src/client.ts)
        context = f"gke_{with_['project_id']}_{with_['location']}_{with_['cluster_name']}"
        path = job.workspace / f"gha-kubeconfig-{uuid.uuid4().hex[:6]}"
        path.write_text(yaml.safe_dump(self.kubeconfig(context)))
        job.env["KUBECONFIG"] = str(path)
        return 0, {}, f"kubeconfig for {context} (stood in)"

    def _build_push(self, _job: _Job, with_: dict[str, str]) -> tuple[int, dict[str, str], str]:
        tags = [t.strip() for t in with_.get("tags", "").replace(",", "\n").splitlines() if t.strip()]
        if with_.get("push") == "true":
            self.pushed.extend(tags)
        return 0, {"digest": "sha256:" + "0" * 64}, f"pushed {tags} (stood in)"

    def _our_action(
        self, job: _Job, with_: dict[str, str], step_env: Mapping[str, str]
    ) -> tuple[int, dict[str, str], str]:
        inputs = {}
        for name, spec in (self.action.get("inputs") or {}).items():
            if name in with_:
                inputs[name] = with_[name]
            elif spec.get("required") and "default" not in spec:
                return 1, {}, f"Input required and not supplied: {name}"
            else:
                inputs[name] = to_string(spec.get("default", ""))
        unknown = set(with_) - set(inputs)
        if unknown:
            return 1, {}, f"Unexpected input(s) {sorted(unknown)}"
        action = {**job.context, "inputs": inputs}
        steps: dict[str, Any] = {}
        failed = False
        code = 0
        texts: list[str] = []
        overlay = {**step_env, "GITHUB_ACTION_PATH": str(self.action_path)}  # the uses: step's env:, for its steps
        previous = {key: job.env.get(key) for key in overlay}
        job.env.update(overlay)
        try:
            for step in self.action["runs"]["steps"]:
                status = {"success": not failed, "failure": failed, "cancelled": False}
                before = len(job.result.log)
                ok = self._step(job, step, status, steps, action=action)
                texts.extend(text for _, _, text in job.result.log[before:])
                if not ok and not failed:
                    code = job.result.log[before][1]  # the step's exit code, as the runner reports it
                del job.result.log[before:]
                failed = failed or not ok
        finally:
            for key, value in previous.items():
                if value is None:
                    job.env.pop(key, None)
                else:
                    job.env[key] = value
        context = {**action, "steps": steps}
        outputs = {
            name: interpolate(spec["value"], context) for name, spec in (self.action.get("outputs") or {}).items()
        }
        return (code if failed else 0), outputs, "\n".join(texts)


def _read_pairs(text: str) -> dict[str, str]:
    """``$GITHUB_OUTPUT``/``$GITHUB_ENV``: ``name=value`` lines, and ``name<<DELIMITER`` … ``DELIMITER`` blocks."""
    values: dict[str, str] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            key, delimiter = line.split("<<", 1)
            end = lines.index(delimiter, i + 1)
            values[key] = "\n".join(lines[i + 1 : end])
            i = end + 1
            continue
        if "=" in line:
            key, value = line.split("=", 1)
            values[key] = value
        i += 1
    return values


def workflow_uses(workflow: Mapping[str, Any]) -> list[str]:
    """Every ``uses:`` of the workflow."""
    return [str(s["uses"]) for job in workflow["jobs"].values() for s in job["steps"] if "uses" in s]
