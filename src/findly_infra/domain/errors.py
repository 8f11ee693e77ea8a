"""The domain's own exception, raised by value objects whose invariants do not hold."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

__all__ = ["InvariantError", "first_repeat"]


class InvariantError(ValueError):
    """Raised when a domain object would break one of its own rules.

    ``field`` names the attribute at fault (and ``index`` the element of it, where it is a
    sequence), so that a loader can point at the exact place in the file.
    """

    def __init__(self, message: str, *, field: str | None = None, index: int | str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.index = index

    @property
    def path(self) -> tuple[str | int, ...]:
        parts: list[str | int] = []
        if self.field is not None:
            parts.append(self.field)
            if self.index is not None:
                parts.append(self.index)
        return tuple(parts)


def first_repeat(values: Sequence[Hashable]) -> int | None:
    """The index of the first value that appeared before, or ``None`` when all are distinct."""
    seen: set[Hashable] = set()
    for index, value in enumerate(values):
        if value in seen:
            return index
        seen.add(value)
    return None
