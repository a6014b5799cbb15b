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


def watch_member_opens(monkeypatch, names) -> list[str]:  # noqa: ANN001
    """The members among ``names`` that any ``zipfile.ZipFile.open`` opens from now on (the test's own archive's
    only: the app's threads meanwhile read their index files, .npz, as zips too)."""
    opened: list[str] = []
    real_open = zipfile.ZipFile.open

    def watched_open(archive, member, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        name = getattr(member, "filename", member)
        if name in names:
            opened.append(name)
        return real_open(archive, member, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", watched_open)
    return opened


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


def pdf_file(pages: list[list[tuple[float, str]]], *, info: dict[str, str] | None = None,
             outline: list[tuple[str, int]] | None = None, page_tree: bytes | None = None,
             extra: list[bytes] | None = None, content: list[bytes] | None = None) -> bytes:
    """A small, valid PDF written by hand: each page a list of (font size, line) in Helvetica.

    ``info`` becomes the info dictionary (values are PDF strings, e.g. ``"D:20250301090000Z"`` for a
    date); ``outline`` a flat outline of (title, page index). For hostile files: ``page_tree``
    replaces the /Pages object (object 2), ``content`` the pages' content streams (uncompressed),
    and ``extra`` adds objects after the others (numbered on from them).
    """
    import zlib

    objects: list[bytes] = [b"<< /Type /Catalog /Pages 2 0 R >>", b""]  # 1 catalog, 2 pages (filled below)
    font = 3
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    kids = []
    for index, lines in enumerate(pages):
        if content is not None:
            stream = content[index]
            raw = b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream"
        else:
            ops, y = [], 800.0
            for size, text in lines:
                escaped = text.encode("cp1252").replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
                y -= size * 1.6
                ops.append(b"BT /F1 %g Tf 1 0 0 1 72 %g Tm (%s) Tj ET" % (size, y, escaped))
            packed = zlib.compress(b"\n".join(ops))
            raw = b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(packed) + packed + b"\nendstream"
        objects.append(raw)
        stream_number = len(objects)
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents %d 0 R "
                       b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (stream_number, font))
        kids.append(len(objects))
    objects[1] = page_tree or b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids), len(kids))
    if outline:
        first = len(objects) + 2
        entries = []
        for position, (title, page) in enumerate(outline):
            number = first + position
            links = b""
            if position:
                links += b" /Prev %d 0 R" % (number - 1)
            if position < len(outline) - 1:
                links += b" /Next %d 0 R" % (number + 1)
            entries.append(b"<< /Title (%s) /Parent %d 0 R /Dest [%d 0 R /XYZ 0 800 0]%s >>"
                           % (title.encode("cp1252"), first - 1, kids[page], links))
        objects.append(b"<< /Type /Outlines /First %d 0 R /Last %d 0 R /Count %d >>"
                       % (first, first + len(outline) - 1, len(outline)))
        objects[0] = b"<< /Type /Catalog /Pages 2 0 R /Outlines %d 0 R >>" % len(objects)
        objects.extend(entries)
    objects.extend(extra or [])
    info_ref = b""
    if info:
        fields = b" ".join(b"/%s (%s)" % (key.encode(), value.encode("cp1252")) for key, value in info.items())
        objects.append(b"<< " + fields + b" >>")
        info_ref = b" /Info %d 0 R" % len(objects)
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, info_ref, xref))
    return out.getvalue()
