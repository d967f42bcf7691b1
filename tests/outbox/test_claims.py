"""Which events are ready and who holds them (app/outbox/claims.py): its guarded transitions, as a table.

The table and its two tests are in transitions.py, shared with test_outcomes.py (which also checks that
a worker that lost its lease can no longer renew it).
"""

from __future__ import annotations

from tests.outbox.transitions import CLAIMS, table_tests

test_a_transition_moves_an_event_from_the_status_it_expects, test_a_transition_changes_nothing_in_any_other_status = (
    table_tests(CLAIMS))
