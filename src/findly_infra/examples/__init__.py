"""The example platform file: the seed document's YAML blocks as written, with our own sections after them."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["example_path", "example_platform_text"]


def example_platform_text() -> str:
    """The text of ``examples/findly.yaml`` as shipped inside the package."""
    return resources.files(__package__).joinpath("findly.yaml").read_text(encoding="utf-8")


def example_path() -> Path:
    """Where the shipped example file is on disk: for ``--config``, or ``findly_infra.load_platform``.

    >>> example_path().name
    'findly.yaml'
    """
    path = resources.files(__package__).joinpath("findly.yaml")
    if not isinstance(path, Path):  # installed inside an archive: there is no file to name
        raise FileNotFoundError("the example platform file is inside an archive: use example_platform_text()")
    return path
