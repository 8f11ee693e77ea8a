"""The time a writing command runs on (``application.timekeeping.time_for``): a state keeps one kind for good."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from findly_infra.application.ports import BadInputError
from findly_infra.application.timekeeping import SKEW, time_for

WALL = datetime(2026, 11, 26, 12, 0)
offsets = st.timedeltas(min_value=-timedelta(days=400), max_value=timedelta(days=2))
kept_modes = st.sampled_from([None, "wall", "virtual"])


@given(kept=kept_modes, offset=st.one_of(st.none(), offsets))
def test_a_state_never_mixes_real_and_virtual_time(kept: str | None, offset: timedelta | None) -> None:
    given_now = None if offset is None else WALL + offset
    future = offset is not None and offset > SKEW
    virtual_asked = offset is not None and abs(offset) > SKEW
    if future or (kept == "wall" and virtual_asked):
        with pytest.raises(BadInputError) as refused:
            time_for(kept, given_now, WALL, where="state.sqlite3")
        assert ("in the future" if future else "keeps real time") in str(refused.value)
        return
    mode = time_for(kept, given_now, WALL, where="state.sqlite3")
    if kept is not None:
        assert mode == kept  # decided once, kept for good
    else:
        assert mode == ("virtual" if virtual_asked else "wall")  # the first writer decides


def test_a_state_keeping_an_unknown_kind_of_time_is_refused() -> None:
    with pytest.raises(BadInputError, match="does not know"):
        time_for("lunar", None, WALL, where="state.sqlite3")


def test_the_skew_is_the_boundary() -> None:
    assert time_for("wall", WALL - SKEW, WALL, where="s") == "wall"
    with pytest.raises(BadInputError):
        time_for("wall", WALL - SKEW - timedelta(seconds=1), WALL, where="s")
    assert time_for(None, WALL + SKEW, WALL, where="s") == "wall"
