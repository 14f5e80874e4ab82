"""Sweep directories that verify themselves: fingerprint, stamped chunks, checked manifest, one writer at a time.

A sweep directory (``lbsim sweep --out DIR``) holds ``manifest.json`` and one
Parquet file per chunk under ``summary/`` (and ``trajectories/``).  This
module makes the directory safe to resume, to read and to share:

Fingerprint
    ``fingerprint = sha256(json({"digest": plan digest, "options": options}))``
    where the plan digest covers the sweep file, the base scenario and the
    chunk size (:class:`sim.sweeps.SweepPlan`) and ``options`` are the
    :class:`RowOptions`: every run option that changes a row (tail window,
    theory on or off, trajectories, chunk size, package version).  Two runs
    with one fingerprint write the same rows, bit for bit.

Stamped chunks
    Every chunk file carries in its Parquet schema metadata the sweep's
    fingerprint, its chunk index, its row count, its kind (summary or
    trajectories) and the axis column types; pages are written with CRC
    checksums.  :func:`inspect_chunk` reads a file whole and calls it
    ``"damaged"`` (unreadable, a failed checksum, a row count that does not
    match) or ``"foreign"`` (no stamp, another fingerprint, another index,
    other scenarios than the chunk's).  A damaged chunk is run again; a
    foreign one is refused, since it is somebody's data.

Manifest
    :func:`check_manifest` refuses a manifest that is not what this version
    writes (not an object, ``runs`` not a list of records, ...), naming the
    file and the key.

One writer
    :class:`WriterLock` holds ``flock(LOCK_EX | LOCK_NB)`` (POSIX ``fcntl``,
    no dependency) on the directory itself for the whole run (released by the kernel when the process ends,
    even on SIGKILL); a second writer is refused with the holder's pid (read
    from ``.writer`` in the directory, written by the holder).  A directory
    the refused run created is removed again, so a refused command leaves
    nothing behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sim.errors import ScenarioError, describe_exception

#: Version of the directory layout; a manifest without it was written before chunks were stamped.
FORMAT = 2
MANIFEST = "manifest.json"
#: File in a sweep directory naming the pid of the process writing it (information only: the lock is the flock).
WRITER = ".writer"
CHUNK_NAME = re.compile(r"chunk-(\d{6})\.parquet")
#: Parquet schema metadata keys of a stamped chunk.
STAMP_KEYS = {
    "fingerprint": b"lbsim.fingerprint",
    "chunk": b"lbsim.chunk",
    "rows": b"lbsim.rows",
    "kind": b"lbsim.kind",
    "axis_types": b"lbsim.axis_types",
}
AXIS_KINDS = ("bool", "int", "float", "str", "json")


# ---------------------------------------------------------------------------
# Options and fingerprint
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RowOptions:
    """The run options that change a row of the table (recorded in the manifest, checked by ``--resume``)."""

    tail_window: int | None
    theory: bool
    trajectory_every: int | None
    chunk_size: int
    package_version: str

    def to_dict(self) -> dict:
        return asdict(self)

    def differences(self, recorded: dict) -> list[str]:
        """``"--flag X here, Y there"`` for every option that differs from ``recorded`` (a manifest's)."""
        flags = {
            "tail_window": "--tail-window",
            "theory": "theory (--no-theory)",
            "trajectory_every": "--trajectories",
            "chunk_size": "--chunk-size",
            "package_version": "leaderboard-sim version",
        }
        now = self.to_dict()
        out = []
        for key, flag in flags.items():
            if key not in recorded or recorded[key] != now[key]:
                there = _describe(key, recorded[key]) if key in recorded else "not recorded"
                out.append(f"{flag} {_describe(key, now[key])} now, {there} there")
        return out


def _describe(key: str, value) -> str:
    if key == "theory":
        return "off" if value is False else "on" if value is True else repr(value)
    if value is None:
        return "off" if key == "trajectory_every" else "default"
    return str(value)


def fingerprint(digest: str, options: RowOptions) -> str:
    """``sha256`` of the plan digest and the row options: equal fingerprints mean equal rows."""
    text = json.dumps({"digest": digest, "options": options.to_dict()}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


# ---------------------------------------------------------------------------
# Manifest
# ---------------------------------------------------------------------------


def manifest_error(path: Path, key: str | None, value, why: str) -> ScenarioError:
    return ScenarioError(f"{path}: {key}" if key else str(path), value, why)


def check_manifest(data, path: Path) -> dict:
    """``data`` (a parsed ``manifest.json``) if it has the shape this version writes; else a one-line error.

    Required: an object with ``format`` (= :data:`FORMAT`), ``digest`` and
    ``fingerprint`` (strings), ``options`` (an object), ``axis_types`` (axis
    name -> one of :data:`AXIS_KINDS`), ``runs`` (a list of objects) and
    ``counts`` (an object).
    """
    if not isinstance(data, dict):
        raise manifest_error(path, None, data, "is not a sweep manifest (expected a JSON object)")
    if data.get("format") != FORMAT:
        raise manifest_error(
            path, "format", data.get("format"),
            f"is not a format-{FORMAT} sweep manifest (an older lbsim wrote it, or not lbsim): "
            "run the sweep again in a new --out",
        )  # fmt: skip
    for key in ("digest", "fingerprint"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise manifest_error(path, key, data.get(key), "must be a non-empty string")
    for key in ("options", "counts"):
        if not isinstance(data.get(key), dict):
            raise manifest_error(path, key, data.get(key), "must be a JSON object")
    types = data.get("axis_types")
    if not isinstance(types, dict) or not all(isinstance(t, str) and t in AXIS_KINDS for t in types.values()):
        raise manifest_error(path, "axis_types", types, f"must map axis names to one of {', '.join(AXIS_KINDS)}")
    runs = data.get("runs")
    if not isinstance(runs, list) or not all(isinstance(r, dict) for r in runs):
        raise manifest_error(path, "runs", runs, "must be a list of run records (JSON objects)")
    return data


def load_manifest(out) -> dict:
    """The checked manifest of the sweep directory ``out``; ``{}`` when there is none."""
    path = Path(out) / MANIFEST
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as err:
        raise manifest_error(path, None, str(path), f"is unreadable ({describe_exception(err)})") from None
    try:
        data = json.loads(text)
    except ValueError as err:
        raise manifest_error(path, None, text[:40], f"is not valid JSON ({describe_exception(err, 80)})") from None
    return check_manifest(data, path)


# ---------------------------------------------------------------------------
# Stamped chunk files
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Stamp:
    """What a chunk file says about itself (its Parquet schema metadata)."""

    fingerprint: str
    chunk: int
    rows: int
    kind: str
    axis_types: dict

    def metadata(self) -> dict[bytes, bytes]:
        values = {
            "fingerprint": self.fingerprint,
            "chunk": str(self.chunk),
            "rows": str(self.rows),
            "kind": self.kind,
            "axis_types": json.dumps(self.axis_types, sort_keys=True),
        }
        return {STAMP_KEYS[k]: v.encode() for k, v in values.items()}


def write_stamped(frame, path: Path, stamp_without_rows: dict) -> None:
    """Write ``frame`` to ``path`` atomically (temporary file, then ``os.replace``), stamped, page checksums on.

    ``stamp_without_rows`` holds ``fingerprint``, ``chunk``, ``kind`` and
    ``axis_types``; the row count is the frame's.  The data is what
    ``frame.to_parquet(index=False)`` writes (the pandas metadata is kept).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    stamp = Stamp(rows=table.num_rows, **stamp_without_rows)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), **stamp.metadata()})
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        pq.write_table(table, tmp, write_page_checksum=True)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def chunk_index(path: Path) -> int | None:
    """The index in a canonical chunk file name ``chunk-NNNNNN.parquet``; None for any other name."""
    match = CHUNK_NAME.fullmatch(path.name)
    return int(match.group(1)) if match else None


def read_stamp(table) -> Stamp | None:
    meta = table.schema.metadata or {}
    if not all(key in meta for key in STAMP_KEYS.values()):
        return None
    try:
        return Stamp(
            fingerprint=meta[STAMP_KEYS["fingerprint"]].decode(),
            chunk=int(meta[STAMP_KEYS["chunk"]]),
            rows=int(meta[STAMP_KEYS["rows"]]),
            kind=meta[STAMP_KEYS["kind"]].decode(),
            axis_types=json.loads(meta[STAMP_KEYS["axis_types"]]),
        )
    except (ValueError, UnicodeDecodeError):
        return None


@dataclass(frozen=True)
class ChunkCheck:
    """The verdict on one chunk file: ``state`` is ``"ok"``, ``"damaged"`` or ``"foreign"``, with the reason."""

    path: Path
    state: str
    reason: str
    frame: Any = None  # the pandas DataFrame when readable
    stamp: Stamp | None = None
    value: Any = None  # what was found wrong (for the error message)


def inspect_chunk(path: Path, kind: str, fingerprint: str | None = None,
                  indices: np.ndarray | None = None) -> ChunkCheck:
    """Read the chunk file at ``path`` whole (checksums verified, converted to pandas) and judge it.

    * damaged: it cannot be read or converted, or holds another number of rows than its stamp says;
    * foreign: no stamp, a stamp of another kind, ``fingerprint`` (when
      given) differs, the stamped index is not the one in the file name, or
      (summary files, ``indices`` given) its ``scenario_index`` column is not
      exactly ``indices`` (trajectories: not within them).
    """
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path, page_checksum_verification=True)
        frame = table.to_pandas()
    except Exception as err:  # noqa: BLE001 -- any failure to read means the file is damaged
        size = path.stat().st_size if path.exists() else None
        return ChunkCheck(path, "damaged", f"unreadable: {describe_exception(err, 100)}", value=f"{size} bytes")
    stamp = read_stamp(table)
    if stamp is None:
        return ChunkCheck(path, "foreign", "carries no lbsim chunk stamp (not written by an lbsim sweep)", frame,
                          value="no stamp")
    if stamp.kind != kind:
        return ChunkCheck(path, "foreign", f"is a {stamp.kind} chunk, not {kind}", frame, stamp, stamp.kind)
    if fingerprint is not None and stamp.fingerprint != fingerprint:
        return ChunkCheck(
            path, "foreign", f"the fingerprint of another sweep (this sweep's is {fingerprint[:12]})", frame, stamp,
            f"fingerprint {stamp.fingerprint[:12]}",
        )  # fmt: skip
    if stamp.chunk != chunk_index(path):
        return ChunkCheck(path, "foreign", "is another chunk under this chunk's name", frame, stamp,
                          f"chunk {stamp.chunk}")
    if stamp.rows != table.num_rows:
        return ChunkCheck(path, "damaged", f"its stamp says {stamp.rows} rows", frame, stamp,
                          f"{table.num_rows} rows")
    if indices is not None:
        try:
            found = frame["scenario_index"].to_numpy()
        except KeyError:
            return ChunkCheck(path, "foreign", "has no scenario_index column", frame, stamp, "no scenario_index")
        expected = np.asarray(indices, dtype=np.int64)
        wrong = (
            not np.array_equal(found, expected) if kind == "summary" else not np.isin(found, expected).all()
        )
        if wrong:
            return ChunkCheck(path, "foreign", f"holds other scenarios than chunk {stamp.chunk}", frame, stamp,
                              f"scenario_index {int(found[0]) if found.size else None}..")
    return ChunkCheck(path, "ok", "", frame, stamp)


def chunk_files(folder: Path) -> tuple[dict[int, Path], list[Path]]:
    """``{index: path}`` of the canonical chunk files in ``folder`` and the other ``chunk-*.parquet`` files."""
    found: dict[int, Path] = {}
    odd: list[Path] = []
    if not folder.is_dir():
        return found, odd
    for path in sorted(folder.glob("chunk-*.parquet")):
        c = chunk_index(path)
        if c is None:
            odd.append(path)
        else:
            found[c] = path
    return found, odd


def refuse_chunk(check: ChunkCheck, hint: str) -> ScenarioError:
    return ScenarioError(str(check.path), check.value, f"{check.reason}; {hint}")


# ---------------------------------------------------------------------------
# One writer at a time
# ---------------------------------------------------------------------------


class WriterLock:
    """An exclusive, non-blocking ``flock`` on the directory ``out`` for as long as the context is open.

    ``out`` (and missing parents) is created if needed.  When another
    process holds the lock: a one-line :class:`ScenarioError` naming its pid.
    On leaving with an exception before :meth:`commit` (nothing of the
    sweep written yet), directories this lock created are removed again.
    """

    def __init__(self, out) -> None:
        self.out = Path(out)
        self.created: list[Path] = []
        self.committed = False
        self._fd: int | None = None

    def commit(self) -> None:
        """The sweep starts writing into the directory: keep it whatever happens next."""
        self.committed = True

    def __enter__(self) -> WriterLock:
        out = self.out
        missing = []
        probe = out
        while not probe.exists() and probe != probe.parent:
            missing.append(probe)
            probe = probe.parent
        for path in reversed(missing):
            try:
                path.mkdir()
            except FileExistsError:
                continue  # somebody else made it at the same moment: not ours to remove
            except OSError as err:
                self._remove_created()
                raise ScenarioError("--out", str(out), f"cannot create the directory: {err.strerror}") from None
            self.created.append(path)
        try:
            self._fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as err:
            self._remove_created()
            raise ScenarioError("--out", str(out), f"cannot open: {err.strerror}") from None
        if not _try_flock(self._fd, fcntl.LOCK_EX, LOCK_TRIES):
            os.close(self._fd)
            self._fd = None
            raise locked_error(out)
        try:
            (out / WRITER).write_text(f"{os.getpid()}\n")
        except OSError as err:
            self.__exit__(OSError, err, None)  # not committed: removes what it created
            raise ScenarioError("--out", str(out), f"cannot write: {err.strerror}") from None
        return self

    def _remove_created(self) -> None:
        if self.created:  # outermost first: removing it removes the rest
            shutil.rmtree(self.created[0], ignore_errors=True)
        self.created = []

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._fd is None:
            return
        try:
            with contextlib.suppress(OSError):
                (self.out / WRITER).unlink()
            if exc_type is not None and not self.committed:
                self._remove_created()
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


#: Attempts, 50 ms apart, to take the lock: a checker's momentary probe (:func:`ensure_unlocked`) must not refuse.
LOCK_TRIES = 5


def _try_flock(fd: int, mode: int, tries: int) -> bool:
    for attempt in range(tries):
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            return True
        except OSError:
            if attempt + 1 < tries:
                time.sleep(0.05)
    return False


def _holder(out: Path) -> str:
    """The writer's pid from its ``.writer`` file (written just after it locks: tries for up to 3 s)."""
    for _ in range(60):
        with contextlib.suppress(OSError, ValueError):
            return f"pid {int((out / WRITER).read_text().strip())}"
        time.sleep(0.05)
    return "pid unknown"


def locked_error(out: Path) -> ScenarioError:
    return ScenarioError(
        "--out", str(out),
        f"is being written by another lbsim process ({_holder(out)}); wait for it to finish or choose another --out",
    )  # fmt: skip


def ensure_unlocked(out) -> None:
    """Refuse (naming the pid) when another process holds the writer lock of the directory ``out`` now.

    A probe: a shared lock taken and released at once; it writes nothing.
    """
    out = Path(out)
    if not out.is_dir():
        return
    try:
        fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return  # the writer lock reports it
    try:
        if not _try_flock(fd, fcntl.LOCK_SH, 1):
            raise locked_error(out)
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def visible_entries(out: Path) -> list[Path]:
    """What is in ``out`` besides the writer file (an empty list for a directory as good as new)."""
    if not out.is_dir():
        return []
    return [p for p in out.iterdir() if p.name != WRITER]
