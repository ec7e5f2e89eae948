"""A name declared on a shared account never takes another account's login (review s8).

In a `shared_account` session shared with a group, the login bob (a uid of his own) declared
GPUMIGRATE_OPERATOR=alice and ticked a runbook item: `session show` printed "Switch traffic — alice",
though alice, the login that acts in the session with her own uid, did nothing. Only the JSON export's
"who" said otherwise. A declared name names a person on one shared account; a name another uid acts
under in the session is refused, one line, exit 2.
"""

from __future__ import annotations

import time

import pytest

from engine.errors import BadInputError
from engine.session import SessionStore
from tests.cutover_support import shared_session


def _acted_as(store: SessionStore, login: str, uid: int, declared: str | None = None) -> None:
    """What another account's process leaves in the session when it acts (its row in ``actors``)."""
    with store._write() as db:  # noqa: SLF001
        db.execute("INSERT INTO actors(login, uid, declared, pid, host, tty, ssh, first_seen) "
                   "VALUES(?, ?, ?, 4242, 'vm', NULL, NULL, ?)", (login, uid, declared, time.time()))


def test_a_declared_name_that_another_account_acts_under_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    shared_session("names")
    me = SessionStore.open("names").identity
    with SessionStore.open("names") as store:
        _acted_as(store, "alice", me.uid + 1)  # the login alice, another uid, acted in this session
        _acted_as(store, "ops", me.uid + 2, declared="carol")  # carol: a name declared on another account
    for taken in ("alice", "carol"):
        with SessionStore.open("names", operator=taken) as posing:
            with pytest.raises(BadInputError, match=f"GPUMIGRATE_OPERATOR={taken}: .*another account"):
                posing.append("runbook", "runbook_ticked", {"item": "Switch traffic"})
    with SessionStore.open("names", operator="dave") as dave:  # a name of this account's own: as before
        dave.append("runbook", "runbook_ticked", {"item": "Switch traffic"})
        assert dave.recent_events(1)[0].operator == "dave"
