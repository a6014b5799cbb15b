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



def docx_of_paragraphs(count: int, *, width: int = 0, seed: int = 0) -> bytes:
    """A valid .docx (python-docx's own template) whose body holds ``count`` one-run paragraphs.

    Paragraph ``i`` reads "Paragraph i", then ``width`` random hexadecimal digits if ``width``
    (text that compresses as real text does, not like a zip bomb). The paragraphs are written into
    the template's document.xml directly: ``add_paragraph`` would take minutes for a million.
    """
    import docx

    template = io.BytesIO()
    docx.Document().save(template)
    rng = random.Random(seed)
    paragraphs = "".join(
        f"<w:p><w:r><w:t>Paragraph {i}{' ' + rng.randbytes(width // 2 + 1).hex()[:width] if width else ''}</w:t></w:r></w:p>"
        for i in range(count))
    source = zipfile.ZipFile(io.BytesIO(template.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "word/document.xml":
                content = content.replace(b"<w:body>", b"<w:body>" + paragraphs.encode(), 1)
            archive.writestr(info.filename, content)
    return out.getvalue()
