"""Hostile-file helpers shared by tests/test_import.py and bench/docx_fuzz.py (RELIABILITY T10)."""

from __future__ import annotations

import io
import random
import zipfile


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One random corruption of ``data``: flipped bytes, truncation, spliced noise or a zeroed run."""
    buffer = bytearray(data)
    kind = rng.choice(["flip", "truncate", "splice", "zero"])
    if kind == "flip":
        for _ in range(rng.randint(1, 20)):
            buffer[rng.randrange(len(buffer))] = rng.randrange(256)
    elif kind == "truncate":
        del buffer[rng.randrange(1, len(buffer)):]
    elif kind == "splice":
        start = rng.randrange(len(buffer))
        buffer[start:start] = rng.randbytes(rng.randint(1, 200))
    else:
        start = rng.randrange(len(buffer))
        buffer[start:start + rng.randint(1, 500)] = b"\0" * rng.randint(1, 500)
    return bytes(buffer)


def zipped(members: dict[str, bytes]) -> bytes:
    """A deflated zip holding ``members``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()
