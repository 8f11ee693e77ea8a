"""``domain/errors.py``: where an invariant error points (its field, and the element of it), and the first repeat of
a sequence — pinned exactly (issue 23's mutation run)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from findly_infra.domain.errors import InvariantError, first_repeat


@given(st.lists(st.integers(0, 6), max_size=12))
def test_first_repeat_is_the_index_of_the_first_value_seen_before(values: list[int]) -> None:
    expected = next((i for i, value in enumerate(values) if value in values[:i]), None)
    assert first_repeat(values) == expected


@given(st.none() | st.sampled_from(["stages", "groups"]), st.none() | st.integers(0, 3) | st.just("key"))
def test_an_invariant_error_points_at_its_field_and_the_element_of_it(
    field: str | None, index: int | str | None
) -> None:
    error = InvariantError("bad", field=field, index=index)
    assert (error.message, str(error), error.field, error.index) == ("bad", "bad", field, index)
    expected: tuple[str | int, ...] = () if field is None else ((field,) if index is None else (field, index))
    assert error.path == expected
    assert isinstance(error, ValueError)
