"""The event key's MAC (issue 16): the fast form ``kb audit verify`` uses per event is HMAC-SHA256 exactly."""

from __future__ import annotations

import hmac

from hypothesis import given
from hypothesis import strategies as st

from kb.provenance import eventkeys


@given(key=st.binary(min_size=0, max_size=200), message=st.binary(max_size=300))
def test_the_precomputed_mac_is_hmac_sha256_for_any_key_and_message(key: bytes, message: bytes) -> None:
    """Keys shorter than, equal to and longer than SHA-256's 64-byte block (RFC 2104 hashes those first)."""
    assert eventkeys.Mac(key).hexdigest(message) == hmac.digest(key, message, "sha256").hex()


def test_it_is_the_mac_kb_writes_and_the_rfc_4231_vector() -> None:
    key, digest = bytes(range(32)), "ab" * 32
    assert eventkeys.Mac(key).hexdigest(digest.encode("ascii")) == eventkeys.mac(key, digest)
    # RFC 4231, test case 2: key "Jefe", data "what do ya want for nothing?"
    assert eventkeys.Mac(b"Jefe").hexdigest(b"what do ya want for nothing?") == \
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
