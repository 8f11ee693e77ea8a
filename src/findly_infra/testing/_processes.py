"""What the launchers of real servers (``prometheus``, ``alertmanager``) share: stopping one for good."""

from __future__ import annotations

import subprocess

__all__ = ["stop"]


def stop(process: subprocess.Popen[bytes]) -> None:
    """Ask *process* to stop (SIGTERM), and kill it if it has not within 10 seconds."""
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)
