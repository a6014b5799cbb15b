"""Bulk import's sources and parallel parsing: a folder or a zip listed as files, each parsed off the database.

Owns three things the bulk use case (``kb.documents.actions.bulk_import``) builds on, none of which
touches a database (issue 19):

- **Listing a batch** (``open_folder``, ``open_zip``, ``open_file``): every file with its path inside
  the folder or zip, and every file refused before it is read, with the reason. Nothing outside the
  folder or zip is ever read: symbolic links are not followed (a folder's are refused, a zip's are
  refused), absolute names and ``..`` in a zip are refused, a zip inside the batch is not opened,
  hidden and system files (``.git/``, ``__MACOSX/``) are refused, non-regular files (a FIFO would
  block the reader) are refused. Files of a suffix ``parse_upload`` does not read
  (``ingest_docx.SUPPORTED_SUFFIXES``) and files over the per-file cap (``MAX_UPLOAD_BYTES``) are
  refused without being read or inflated.
- **The caps of a bulk zip**, larger than those of a .docx (which is a zip of a dozen parts) because a
  bulk zip holds thousands of documents; they are checked from the zip's directory before any member
  is inflated, and each member is then inflated with a byte cap because declared sizes can lie:
  ``MAX_BULK_FILES`` files, ``MAX_BULK_INFLATED_BYTES`` inflated in all, ``MAX_BULK_COMPRESSION_RATIO``
  for the whole zip and for each member. The request body of a zip upload has its own cap, the
  ``KB_MAX_BULK_IMPORT_BYTES`` setting (413, enforced by ``kb.app.BodySizeLimit``).
- **Parsing in parallel** (``parse_in_order``): a pool of processes, one per core, runs the pure
  parser (filename and bytes in, Markdown out) while the caller writes to the database in the parent;
  results come back in the order the files went in, a bounded number in flight.

The slug of each document comes from its path (``slug_from_path``: ``hr/leave/policy.docx`` becomes
``hr-leave-policy``), so files with the same name in different folders are different documents; two
files whose paths give one slug are a collision, and all but the first (by path) are refused.

Must not import the database, the services, the actions or the web framework: a worker process
imports this module (and the parser it is given) only.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import stat
import unicodedata
import zipfile
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any, TypeVar

from kb import forkserver
from kb.documents.ingest_docx import MAX_UPLOAD_BYTES, SUPPORTED_SUFFIXES, ParsedFile
from kb.errors import ErrorCode, KbError

log = logging.getLogger(__name__)

MAX_BULK_FILES = 100_000
"""Files (zip members, or files under a folder) in one bulk import; a larger batch is refused whole (split it)."""
MAX_BULK_INFLATED_BYTES = 4 * 1024 * 1024 * 1024
"""Bytes a bulk zip's members may inflate to in all, by the sizes its directory declares (checked first)."""
MAX_BULK_COMPRESSION_RATIO = 100
"""Inflated to compressed size, for the whole zip and each member above 1 MiB: more looks like a zip bomb."""
_RATIO_FLOOR = 1024 * 1024  # small members compress well (a page of Markdown 20:1); a bomb is large by nature


@dataclass(frozen=True)
class Refused:
    """A file of the batch that was not imported: its path in the folder or zip, the error code, why."""

    path: str
    code: str
    reason: str


@dataclass(frozen=True)
class Entry:
    """A file of the batch to read: its path inside the folder or zip (posix), its size, and how to read it."""

    path: str
    size: int
    read: Callable[[], bytes] = field(repr=False, compare=False)
    """The file's bytes. Raises KbError INVALID_FILE when they cannot be read (damaged, larger than declared)."""


@dataclass
class Batch:
    """Files to import and files refused while listing them; close it (or use ``with``) to close its zips."""

    entries: list[Entry] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)
    _closers: list[Callable[[], None]] = field(default_factory=list, repr=False)

    def extend(self, other: "Batch") -> "Batch":
        self.entries += other.entries
        self.refused += other.refused
        self._closers += other._closers
        return self

    def close(self) -> None:
        for close in self._closers:
            close()
        self._closers.clear()

    def __enter__(self) -> "Batch":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def slug_from_path(path: str) -> str:
    """The slug of a document imported from ``path`` (posix, inside the folder or zip): its folders and its
    name without the suffix, written in ASCII letters (``anyascii``: "Überblick" → "uberblick",
    "Справка" → "spravka", "首都" → "shoudou"), lower case, every run of other characters than ``a-z0-9``
    one ``-``, at most 120 characters. A bare name gives what single-file import gives
    (``importing.slug_from_filename``).

    Before, every letter outside ``a-z`` was dropped: all Greek or Cyrillic file names gave the slug
    ``document`` and "Ärger" gave "rger", so one file's import replaced another's draft (the review of
    2026-12-07). A name that still gives no letter or digit (only symbols) gets ``document-`` and the
    first 8 hex digits of its SHA-256, so two such names stay two documents.
    """
    from anyascii import anyascii

    parts = PurePosixPath(path).parts or ("",)
    stem_path = "/".join([*parts[:-1], PurePosixPath(parts[-1]).stem])
    slug = re.sub(r"[^a-z0-9]+", "-", anyascii(unicodedata.normalize("NFC", stem_path)).lower()).strip("-")[:120].strip("-")
    if slug:
        return slug
    return "document-" + hashlib.sha256(stem_path.encode("utf-8", "surrogatepass")).hexdigest()[:8] if stem_path else "document"


def plan(entries: Iterable[Entry]) -> tuple[list[tuple[Entry, str]], list[Refused]]:
    """Each entry with its slug, in path order; entries whose slug an earlier path already gives are refused."""
    planned: list[tuple[Entry, str]] = []
    refused: list[Refused] = []
    first: dict[str, str] = {}
    for entry in sorted(entries, key=lambda e: e.path):
        slug = slug_from_path(entry.path)
        if slug in first:
            refused.append(Refused(entry.path, ErrorCode.CONFLICT.code,
                                   f"gives the slug {slug!r}, as {first[slug]!r} does (slugs come from paths: rename one)"))
            continue
        first[slug] = entry.path
        planned.append((entry, slug))
    return planned, refused


# --------------------------------------------------------------------------------------- listing

def _hidden(path: str) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in PurePosixPath(path).parts)


def _refusal_by_name(path: str, size: int) -> Refused | None:
    """Why a file is refused from its name and size alone (never read), or None."""
    suffix = PurePosixPath(path).suffix.lower()
    if _hidden(path):
        return Refused(path, ErrorCode.UNSUPPORTED_MEDIA_TYPE.code, "a hidden or system file: not imported")
    if suffix == ".zip":
        return Refused(path, ErrorCode.UNSUPPORTED_MEDIA_TYPE.code,
                       "a zip inside the batch is not opened (nested archives are not followed)")
    if suffix not in SUPPORTED_SUFFIXES:
        return Refused(path, ErrorCode.UNSUPPORTED_MEDIA_TYPE.code,
                       f"cannot import {suffix or 'files without an extension'}: kb imports {', '.join(SUPPORTED_SUFFIXES)}")
    if size == 0:
        return Refused(path, ErrorCode.INVALID_FILE.code, "is empty")
    if size > MAX_UPLOAD_BYTES:
        return Refused(path, ErrorCode.INVALID_FILE.code, f"is {size} bytes; the limit per file is {MAX_UPLOAD_BYTES}")
    return None


def _too_many(count: int) -> KbError:
    return KbError(ErrorCode.INVALID_FILE, f"the batch has {count} files; the limit is {MAX_BULK_FILES} (import it in parts)",
                   {"too_large": "files", "limit": MAX_BULK_FILES})


def open_file(path: Path) -> Batch:
    """One file given by itself: its path in the batch is its name (its slug, as single-file import's)."""
    if path.suffix.lower() == ".zip":
        return open_zip_path(path)
    size = path.stat().st_size
    refusal = _refusal_by_name(path.name, size)
    if refusal is not None:
        return Batch(refused=[refusal])
    return Batch(entries=[Entry(path.name, size, _file_reader(path, path.name))])


def _file_reader(path: Path, shown: str) -> Callable[[], bytes]:
    def read() -> bytes:
        try:
            with path.open("rb") as handle:
                data = handle.read(MAX_UPLOAD_BYTES + 1)
        except OSError as exc:
            raise KbError(ErrorCode.INVALID_FILE, f"{shown} cannot be read ({exc.strerror or exc})") from None
        if len(data) > MAX_UPLOAD_BYTES:
            raise KbError(ErrorCode.INVALID_FILE, f"{shown} is larger than {MAX_UPLOAD_BYTES} bytes (it grew while listed)")
        return data
    return read


def open_paths(paths: Iterable[Path]) -> Batch:
    """One batch of files, folders (every file under each, its path relative to the folder) and zips (each member).

    Raises:
        KbError INVALID_FILE: a zip that is not readable or over a cap for the whole zip; more than
            ``MAX_BULK_FILES`` files in all.
    """
    batch = Batch()
    try:
        for path in paths:
            batch.extend(open_folder(path) if path.is_dir() else open_file(path))
        if len(batch.entries) > MAX_BULK_FILES:
            raise _too_many(len(batch.entries))
    except BaseException:
        batch.close()
        raise
    return batch


def open_folder(root: Path) -> Batch:
    """Every file under ``root``, its path relative to ``root``; symbolic links and special files refused, not followed.

    Raises:
        KbError INVALID_FILE: more than ``MAX_BULK_FILES`` files.
    """
    batch = Batch()
    for folder, dirnames, filenames in os.walk(root, followlinks=False):
        base = Path(folder)
        relative_folder = base.relative_to(root).as_posix()

        def rel(name: str) -> str:
            return name if relative_folder == "." else f"{relative_folder}/{name}"

        for name in sorted(dirnames):
            full = base / name
            if full.is_symlink():
                batch.refused.append(Refused(rel(name) + "/", ErrorCode.UNSUPPORTED_MEDIA_TYPE.code,
                                             "a symbolic link to a folder: not followed"))
                dirnames.remove(name)
            elif _hidden(name):
                batch.refused.append(Refused(rel(name) + "/", ErrorCode.UNSUPPORTED_MEDIA_TYPE.code,
                                             "a hidden or system folder: not imported"))
                dirnames.remove(name)
        for name in filenames:
            full, shown = base / name, rel(name)
            info = full.lstat()
            if stat.S_ISLNK(info.st_mode):
                batch.refused.append(Refused(shown, ErrorCode.UNSUPPORTED_MEDIA_TYPE.code, "a symbolic link: not followed"))
                continue
            if not stat.S_ISREG(info.st_mode):
                batch.refused.append(Refused(shown, ErrorCode.UNSUPPORTED_MEDIA_TYPE.code, "not a regular file"))
                continue
            refusal = _refusal_by_name(shown, info.st_size)
            if refusal is not None:
                batch.refused.append(refusal)
                continue
            batch.entries.append(Entry(shown, info.st_size, _file_reader(full, shown)))
            if len(batch.entries) > MAX_BULK_FILES:
                raise _too_many(len(batch.entries))
    batch.entries.sort(key=lambda e: e.path)
    batch.refused.sort(key=lambda r: r.path)
    return batch


def open_zip_path(path: Path) -> Batch:
    """``open_zip`` of a zip file on disk (read member by member, never whole into memory)."""
    handle = path.open("rb")
    try:
        batch = open_zip(handle)
    except BaseException:
        handle.close()
        raise
    batch._closers.append(handle.close)
    return batch


def _zip_member_refusal(info: zipfile.ZipInfo, names: Counter[str]) -> Refused | None:
    name = info.filename
    if "\\" in name or name.startswith("/") or re.match(r"^[A-Za-z]:", name) or "\x00" in name:
        return Refused(name, ErrorCode.INVALID_FILE.code, "an absolute or unsafe name in the zip: refused")
    if any(part == ".." for part in name.split("/")):
        return Refused(name, ErrorCode.INVALID_FILE.code, "a name that climbs out of the zip (..): refused")
    if stat.S_ISLNK(info.external_attr >> 16):
        return Refused(name, ErrorCode.UNSUPPORTED_MEDIA_TYPE.code, "a symbolic link in the zip: not followed")
    if names[name] > 1:  # which of them is meant? neither is imported
        return Refused(name, ErrorCode.INVALID_FILE.code, "appears more than once in the zip: refused")
    if info.flag_bits & 0x1:
        return Refused(name, ErrorCode.INVALID_FILE.code, "is encrypted: kb cannot read it")
    refusal = _refusal_by_name(name, info.file_size)
    if refusal is not None:
        return refusal
    if info.file_size > _RATIO_FLOOR and info.file_size > MAX_BULK_COMPRESSION_RATIO * max(info.compress_size, 1):
        return Refused(name, ErrorCode.INVALID_FILE.code,
                       f"compresses {info.file_size // max(info.compress_size, 1)}:1; more than "
                       f"{MAX_BULK_COMPRESSION_RATIO}:1 looks like a zip bomb")
    return None


def open_zip(handle: IO[bytes]) -> Batch:
    """Every member of a zip (a seekable binary file), checked from the zip's directory before any is inflated.

    Raises:
        KbError INVALID_FILE: not a readable zip, or over a cap for the whole zip (``details["too_large"]``
            names it: files, inflated_bytes, compression_ratio).
    """
    try:
        archive = zipfile.ZipFile(handle)
        infos = archive.infolist()
    except Exception as exc:  # BadZipFile, NotImplementedError, ValueError, EOFError, OSError… on hostile input
        raise KbError(ErrorCode.INVALID_FILE, f"not a readable zip file ({type(exc).__name__}: {exc})") from None
    if len(infos) > MAX_BULK_FILES:
        archive.close()
        raise _too_many(len(infos))
    declared = sum(info.file_size for info in infos)
    if declared > MAX_BULK_INFLATED_BYTES:
        archive.close()
        raise KbError(ErrorCode.INVALID_FILE, f"the zip would inflate to {declared} bytes; the limit is {MAX_BULK_INFLATED_BYTES}",
                      {"too_large": "inflated_bytes", "limit": MAX_BULK_INFLATED_BYTES})
    size = handle.seek(0, io.SEEK_END)
    if declared > _RATIO_FLOOR and declared > MAX_BULK_COMPRESSION_RATIO * max(size, 1):
        archive.close()
        raise KbError(ErrorCode.INVALID_FILE, f"the zip compresses {declared // max(size, 1)}:1; more than "
                      f"{MAX_BULK_COMPRESSION_RATIO}:1 looks like a zip bomb",
                      {"too_large": "compression_ratio", "limit": MAX_BULK_COMPRESSION_RATIO})
    batch = Batch(_closers=[archive.close])
    names = Counter(info.filename for info in infos)
    for info in infos:
        if info.is_dir():
            continue
        refusal = _zip_member_refusal(info, names)
        if refusal is not None:
            batch.refused.append(refusal)
            continue
        batch.entries.append(Entry(info.filename, info.file_size, _member_reader(archive, info)))
    # Each member is inflated to at most its declared size + 1 byte (``_member_reader``), so what is
    # inflated in all stays within the declared total checked above (plus one byte per member).
    batch.entries.sort(key=lambda e: e.path)
    batch.refused.sort(key=lambda r: r.path)
    return batch


def _member_reader(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Callable[[], bytes]:
    def read() -> bytes:
        try:
            with archive.open(info) as member:
                data = member.read(info.file_size + 1)
        except Exception as exc:  # BadZipFile (CRC), zlib.error, EOFError, NotImplementedError, … (T10)
            raise KbError(ErrorCode.INVALID_FILE, f"is damaged in the zip ({type(exc).__name__}: {exc})") from None
        if len(data) > info.file_size:
            raise KbError(ErrorCode.INVALID_FILE, "is larger than the zip declares: refused")
        return data
    return read


# --------------------------------------------------------------------------------------- parsing

Key = TypeVar("Key")
Parse = Callable[[str, bytes], ParsedFile]


def parse_guarded(parse: Parse, filename: str, data: bytes) -> ParsedFile | Refused:
    """``parse(filename, data)``, its refusal as a value (a KbError does not survive pickling back from a worker).

    Anything but a KbError is a bug of a parser: logged, and the file refused as ``internal_error``, so that one
    file never stops the batch.
    """
    try:
        return parse(filename, data)
    except KbError as error:
        return Refused(filename, error.code.code, error.message)
    except Exception as exc:  # noqa: BLE001 - one file's parser bug must not stop the batch
        log.exception("Bug: the parser failed on %s", filename)
        return Refused(filename, ErrorCode.INTERNAL_ERROR.code, f"kb could not read it ({type(exc).__name__}); this is a bug")


def default_workers() -> int:
    """Every core this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def parse_in_order(
    jobs: Iterable[tuple[Key, str, bytes]], *, parse: Parse, workers: int, expected: int,
) -> Iterator[tuple[Key, str, bytes, ParsedFile | Refused]]:
    """Parse ``(key, filename, data)`` jobs, yielding ``(key, filename, data, result)`` in the jobs' order.

    With ``workers`` > 1 and at least ``forkserver.POOL_MIN_FILES`` ``expected`` jobs, a pool of ``workers``
    processes parses them (forked from a *fork server*, ``kb.forkserver.context``: never forked from this process,
    which may run threads, as the server does, and a fork of it could deadlock; started at the first file
    that needs it: Markdown and text, ``forkserver.INLINE_SUFFIXES``, are parsed in this process), at most
    ``2 × workers`` in flight, so memory stays bounded by the window, not the batch. ``jobs`` is pulled
    lazily from the calling thread, so the caller may read the database while producing jobs and write it
    while consuming results. A worker that dies (killed, out of memory) refuses the files in flight with a
    reason that says to run the import again; a new pool takes over.
    """
    if workers <= 1 or expected < forkserver.POOL_MIN_FILES:
        for key, filename, data in jobs:
            yield key, filename, data, parse_guarded(parse, filename, data)
        return
    pool: ProcessPoolExecutor | None = None
    window: deque[tuple[Key, str, bytes, Future[Any]]] = deque()

    def oldest() -> tuple[Key, str, bytes, ParsedFile | Refused]:
        nonlocal pool
        key, filename, data, future = window.popleft()
        try:
            result = future.result()
        except BrokenProcessPool:
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
            pool = None  # the next job starts a new pool
            result = Refused(filename, ErrorCode.INTERNAL_ERROR.code,
                             "the parsing process stopped (killed or out of memory) while this file was in it; "
                             "run the import again to retry it")
        return key, filename, data, result

    try:
        for key, filename, data in jobs:
            if PurePosixPath(filename).suffix.lower() in forkserver.INLINE_SUFFIXES:
                future = Future()
                future.set_result(parse_guarded(parse, filename, data))
                window.append((key, filename, data, future))
                while len(window) >= 2 * workers:
                    yield oldest()
                continue
            if pool is None:
                pool = ProcessPoolExecutor(max_workers=workers, mp_context=forkserver.context())
            try:
                future = pool.submit(parse_guarded, parse, filename, data)
            except BrokenProcessPool:
                pool = ProcessPoolExecutor(max_workers=workers, mp_context=forkserver.context())
                future = pool.submit(parse_guarded, parse, filename, data)
            window.append((key, filename, data, future))
            while len(window) >= 2 * workers:
                yield oldest()
        while window:
            yield oldest()
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


__all__ = [
    "MAX_BULK_COMPRESSION_RATIO", "MAX_BULK_FILES", "MAX_BULK_INFLATED_BYTES", "Batch", "Entry",
    "Refused", "default_workers", "open_file", "open_folder", "open_paths", "open_zip", "open_zip_path", "parse_guarded",
    "parse_in_order", "plan", "slug_from_path",
]
