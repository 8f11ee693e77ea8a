"""``findly_infra.domain``'s lazy exports (PEP 562 ``__getattr__``/``__dir__``), called as Python calls them: each
exported name resolves to its module's object and is kept in the package afterwards; an unknown name is the
AttributeError Python itself would raise; ``dir()`` lists exactly ``__all__``."""

from __future__ import annotations

import importlib

import pytest

from findly_infra import domain


@pytest.mark.parametrize(
    ("name", "module"), [("judge", "analysis"), ("Lease", "lease"), ("image_name_problem", "images")]
)
def test_an_exported_name_is_its_modules_object_and_is_kept(
    name: str, module: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delitem(vars(domain), name, raising=False)  # as on first use, before it was ever resolved
    value = domain.__getattr__(name)
    assert value is getattr(importlib.import_module(f"findly_infra.domain.{module}"), name)
    assert vars(domain)[name] is value  # resolved once, then an ordinary attribute


def test_an_unknown_name_is_pythons_own_attribute_error() -> None:
    with pytest.raises(AttributeError) as raised:
        domain.__getattr__("no_such_rule")
    assert str(raised.value) == "module 'findly_infra.domain' has no attribute 'no_such_rule'"


def test_dir_lists_exactly_the_exports_sorted() -> None:
    assert domain.__dir__() == sorted(domain.__all__)
    assert dir(domain) == sorted(domain.__all__)
