"""The exit codes of the command line (DESIGN.md): 0 done; 2 bad input; 3 refused by policy; 4 the rollout failed
its analysis and was rolled back or aborted; 5 a dependency could not be reached or answer; 1 only for bugs."""

from __future__ import annotations

__all__ = ["EXIT_BAD_INPUT", "EXIT_BUG", "EXIT_DEPENDENCY", "EXIT_FAILED", "EXIT_OK", "EXIT_REFUSED"]

EXIT_OK = 0
EXIT_BUG = 1
EXIT_BAD_INPUT = 2
EXIT_REFUSED = 3
EXIT_FAILED = 4
EXIT_DEPENDENCY = 5
