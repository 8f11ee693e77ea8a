"""The exit codes of the command line (DESIGN.md): 0 done; 2 bad input; 3 refused by policy; 4 the rollout failed
its analysis and was rolled back or aborted (``apply --wait``: a workload did not become ready); 5 a dependency
could not be reached or answer; 6 stopped for a person (paused, awaiting an approval or evidence: the output says
what would unblock it); 7 ``diff`` found the cluster differs from the platform file; 1 only for bugs."""

from __future__ import annotations

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_BROKEN_PIPE",
    "EXIT_BUG",
    "EXIT_DEPENDENCY",
    "EXIT_DRIFT",
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_REFUSED",
    "EXIT_STOPPED",
]

EXIT_OK = 0
EXIT_BUG = 1
EXIT_BAD_INPUT = 2
EXIT_REFUSED = 3
EXIT_FAILED = 4
EXIT_DEPENDENCY = 5
EXIT_STOPPED = 6
EXIT_DRIFT = 7
"""``diff``: the cluster differs from the platform file (what would change is listed)."""
EXIT_BROKEN_PIPE = 141
"""The reader of stdout went away (``| head``): ended quietly, with the code a shell gives SIGPIPE."""
