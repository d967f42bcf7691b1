"""Which events are ready and who holds them (app/outbox/claims.py): its guarded transitions, as a table.

The table and its two checks are in transitions.py, shared with test_outcomes.py (which also checks that
a worker that lost its lease can no longer renew it).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.outbox.transitions import CLAIMS, FIELDS, Call, check_guard, check_moves, ids


@pytest.mark.parametrize(FIELDS, CLAIMS, ids=ids(CLAIMS))
def test_a_transition_moves_an_event_from_the_status_it_expects(
    configure_shop: Any, name: str, from_status: str, call: Call, to_status: str, columns: dict[str, Any]
) -> None:
    check_moves(configure_shop(), name, from_status, call, to_status, columns)


@pytest.mark.parametrize(FIELDS, CLAIMS, ids=ids(CLAIMS))
def test_a_transition_changes_nothing_in_any_other_status(
    configure_shop: Any, name: str, from_status: str, call: Call, to_status: str, columns: dict[str, Any]
) -> None:
    check_guard(configure_shop(), from_status, call, columns)
