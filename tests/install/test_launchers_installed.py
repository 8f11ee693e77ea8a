"""The Kubernetes page as a new user meets it: findly-infra installed from the wheel with ``[kubernetes,testing]`` in a
fresh environment (offline, from the wheelhouse), the stand-in started with the launcher the page gives, the page's
first ``diff`` and ``apply`` run through the kubeconfig it wrote; and with ``[kubernetes]`` alone, the launcher names
the ``testing`` extra it needs (exit 2), never a traceback."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from tests.install.conftest import Installed


def _env(bin_: Path, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("FINDLY_", "GITHUB_", "ACTIONS_", "KUBECONFIG"))}
    return {**base, "PATH": f"{bin_}:{base.get('PATH', '')}", **extra}


def test_the_kubernetes_pages_first_steps_from_a_fresh_install(installed: Installed, tmp_path: Path) -> None:
    bin_ = installed("kubernetes,testing")
    launcher = subprocess.Popen(
        [str(bin_ / "python"), "-m", "findly_infra.testing.kubernetes", "--port", "0", "--kubeconfig", "kubeconfig"],
        cwd=tmp_path,
        env=_env(bin_),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert launcher.stdout is not None
        lines: list[str] = []
        while not (lines and lines[-1].startswith("serving on 127.0.0.1")):
            line = launcher.stdout.readline()
            assert line, launcher.stderr.read() if launcher.stderr else ""
            lines.append(line.rstrip("\n"))
        assert f"export KUBECONFIG={tmp_path / 'kubeconfig'}" in lines
        env = _env(bin_, KUBECONFIG=str(tmp_path / "kubeconfig"))

        def run(*words: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [str(bin_ / "findly-infra"), *words], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
            )

        (tmp_path / "findly.yaml").write_text(run("example").stdout)
        diff = run("diff", "--env", "production", "--context", "findly-prod")
        assert diff.returncode == 7, diff.stdout + diff.stderr
        applied = run("apply", "--env", "production", "--context", "findly-prod")
        assert applied.returncode == 0, applied.stdout + applied.stderr
        assert "production: 33 created, 0 changed, 0 unchanged, 0 pruned" in applied.stdout
        launcher.send_signal(signal.SIGTERM)
        assert launcher.wait(60) == 0
    finally:
        if launcher.poll() is None:
            launcher.kill()
        launcher.communicate()


def test_the_launcher_names_the_testing_extra_it_needs(installed: Installed, tmp_path: Path) -> None:
    bin_ = installed("kubernetes")
    result = subprocess.run(
        [str(bin_ / "python"), "-m", "findly_infra.testing.kubernetes", "--port", "0"],
        cwd=tmp_path,
        env=_env(bin_),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "needs the testing extra (pip install 'findly-infra[testing]')" in result.stderr
    assert "Traceback" not in result.stderr
