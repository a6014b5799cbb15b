"""The hash chain's canonical form and append behaviour."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kb.provenance.chain import canonical_envelope, canonical_json

text = st.text(max_size=40)


@given(seq=st.integers(1, 2**62), at=text, actor_id=st.none() | st.integers(0, 2**62), actor_name=text, action=text,
       object_type=text, object_id=text, payload=text, prev_hash=text)
def test_fast_envelope_equals_canonical_json(**fields) -> None:  # noqa: ANN003
    assert canonical_envelope(**fields) == canonical_json(fields)


def test_chain_links_each_event_to_the_previous(database) -> None:  # noqa: ANN001
    from kb import provenance
    from kb.db import transaction

    with database.session() as session:
        for i in range(3):
            with transaction(session):
                provenance.record(session, None, "test.event", ("thing", i), {"i": i, "text": "ünïcödé"})
        events = provenance.list_events(session)
        assert [e.seq for e in events] == [1, 2, 3]
        assert events[0].prev_hash == "0" * 64
        assert [e.prev_hash for e in events[1:]] == [e.hash for e in events[:-1]]
        assert provenance.head(session) == (3, events[-1].hash)
        assert provenance.verify_chain(session).ok
