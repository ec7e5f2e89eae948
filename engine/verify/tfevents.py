"""TensorBoard event files, read and written without TensorFlow.

An event file is a sequence of TFRecords::

    uint64 length (little-endian) | uint32 masked_crc32c(length bytes) | data | uint32 masked_crc32c(data)

and each record's data is a serialized ``tensorflow.Event`` protocol buffer.
Only the fields a loss curve needs are decoded: ``Event.step`` (2),
``Event.wall_time`` (1), ``Event.summary`` (5) -> ``Summary.value`` (1) ->
``Value.tag`` (1), ``Value.simple_value`` (2) (what PyTorch's SummaryWriter
writes) or ``Value.tensor`` (8) -> ``TensorProto`` (what ``tf.summary.scalar``
writes): float/double values, and half-precision ones (DT_HALF, DT_BFLOAT16:
``half_val`` holds their 16 bits, ``tensor_content`` packs them two bytes each),
which mixed-precision training logs.  Everything else is skipped by wire type.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

import google_crc32c


class EventFileError(ValueError):
    """The file is not a TensorBoard event file, or it is corrupt (with the offset)."""


def masked_crc32c(data: bytes) -> int:
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


@dataclass(frozen=True)
class Scalar:
    step: int
    tag: str
    value: float
    wall_time: float


# --- TFRecord framing ---------------------------------------------------------


def read_records(stream: BinaryIO) -> Iterator[bytes]:
    """Every record's data, checking both CRCs; a truncated last record (a live writer) ends the file."""
    offset = 0
    while True:
        header = stream.read(12)
        if not header:
            return
        if len(header) < 12:
            return  # a writer is still appending: stop at the last whole record
        (length,) = struct.unpack("<Q", header[:8])
        (length_crc,) = struct.unpack("<I", header[8:])
        if masked_crc32c(header[:8]) != length_crc:
            raise EventFileError(f"bad length checksum at byte {offset}: not an event file, or corrupt")
        data = stream.read(length)
        footer = stream.read(4)
        if len(data) < length or len(footer) < 4:
            return
        if masked_crc32c(data) != struct.unpack("<I", footer)[0]:
            raise EventFileError(f"bad data checksum in the record at byte {offset}: the file is corrupt")
        offset += 12 + length + 4
        yield data


def frame_record(data: bytes) -> bytes:
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", masked_crc32c(length)) + data + struct.pack("<I", masked_crc32c(data))


# --- protobuf wire format -----------------------------------------------------


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise EventFileError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise EventFileError("varint too long")


def _fields(buf: bytes) -> Iterator[tuple[int, int, object]]:
    """(field number, wire type, value): ints for varint/fixed, bytes for length-delimited."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
            yield number, wire, value
        elif wire == 1:
            if pos + 8 > len(buf):
                raise EventFileError("truncated fixed64")
            yield number, wire, buf[pos:pos + 8]
            pos += 8
        elif wire == 2:
            length, pos = _varint(buf, pos)
            if pos + length > len(buf):
                raise EventFileError("truncated length-delimited field")
            yield number, wire, buf[pos:pos + length]
            pos += length
        elif wire == 5:
            if pos + 4 > len(buf):
                raise EventFileError("truncated fixed32")
            yield number, wire, buf[pos:pos + 4]
            pos += 4
        else:
            raise EventFileError(f"unsupported wire type {wire}")


def _signed64(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


DT_FLOAT, DT_DOUBLE, DT_BFLOAT16, DT_HALF = 1, 2, 14, 19
"""TensorFlow's DataType numbers (tensorflow/core/framework/types.proto)."""


def _half(bits: int, dtype: int) -> float:
    """16 bits as IEEE half (DT_HALF) or bfloat16 (the top half of a float32)."""
    raw = struct.pack("<H", bits & 0xFFFF)
    if dtype == DT_BFLOAT16:
        return float(struct.unpack("<f", b"\x00\x00" + raw)[0])
    return float(struct.unpack("<e", raw)[0])


def _tensor_value(buf: bytes) -> float | None:
    dtype = DT_FLOAT
    content = b""
    floats: list[float] = []
    halves: list[int] = []
    for number, wire, value in _fields(buf):
        if number == 1 and wire == 0:
            dtype = int(value)  # type: ignore[arg-type]
        elif number == 4 and wire == 2:
            content = value  # type: ignore[assignment]
        elif number == 5:  # float_val, packed (wire 2) or one fixed32 (wire 5)
            floats += [v for (v,) in struct.iter_unpack("<f", value)]  # type: ignore[arg-type]
        elif number == 6:  # double_val
            floats += [v for (v,) in struct.iter_unpack("<d", value)]  # type: ignore[arg-type]
        elif number == 13 and wire == 0:  # half_val, one varint
            halves.append(int(value))  # type: ignore[arg-type]
        elif number == 13 and wire == 2:  # half_val, packed varints
            pos = 0
            while pos < len(value):  # type: ignore[arg-type]
                bits, pos = _varint(value, pos)  # type: ignore[arg-type]
                halves.append(bits)
    if floats:
        return floats[0]
    if halves and dtype in (DT_HALF, DT_BFLOAT16):
        return _half(halves[0], dtype)
    if content and dtype == DT_FLOAT and len(content) >= 4:
        return float(struct.unpack("<f", content[:4])[0])
    if content and dtype == DT_DOUBLE and len(content) >= 8:
        return float(struct.unpack("<d", content[:8])[0])
    if content and dtype in (DT_HALF, DT_BFLOAT16) and len(content) >= 2:
        return _half(struct.unpack("<H", content[:2])[0], dtype)
    return None


def parse_event(data: bytes) -> list[Scalar]:
    step = 0
    wall = 0.0
    summaries: list[bytes] = []
    for number, wire, value in _fields(data):
        if number == 1 and wire == 1:
            wall = struct.unpack("<d", value)[0]  # type: ignore[arg-type]
        elif number == 2 and wire == 0:
            step = _signed64(int(value))  # type: ignore[arg-type]
        elif number == 5 and wire == 2:
            summaries.append(value)  # type: ignore[arg-type]
    out: list[Scalar] = []
    for summary in summaries:
        for number, wire, value in _fields(summary):
            if number != 1 or wire != 2:
                continue
            tag = ""
            scalar: float | None = None
            for vnum, vwire, vval in _fields(value):  # type: ignore[arg-type]
                if vnum == 1 and vwire == 2:
                    tag = vval.decode("utf-8", "replace")  # type: ignore[union-attr]
                elif vnum == 2 and vwire == 5:
                    scalar = struct.unpack("<f", vval)[0]  # type: ignore[arg-type]
                elif vnum == 8 and vwire == 2:
                    scalar = _tensor_value(vval)  # type: ignore[arg-type]
            if tag and scalar is not None:
                out.append(Scalar(step, tag, scalar, wall))
    return out


def read_scalars(path: Path) -> list[Scalar]:
    with open(path, "rb") as stream:
        return [s for record in read_records(stream) for s in parse_event(record)]


EVENT_FILE_MARK = "tfevents"
"""Event files are named ``events.out.tfevents.<time>.<host>[.<pid>.<n>][.v2]``."""


def run_files(folder: Path) -> list[Path]:
    """The event files of one run directory (a writer per process and restart: often several).

    The folder's own event files; when it has none, the one subfolder that has some (a
    TensorBoard log root holding one run).  Several runs (``train/``, ``eval/``...) are refused
    with their names: their steps are different curves, not one.
    """
    own = sorted(p for p in folder.iterdir() if p.is_file() and EVENT_FILE_MARK in p.name)
    if own:
        return own
    runs = sorted({p.parent for p in folder.rglob(f"*{EVENT_FILE_MARK}*") if p.is_file()})
    if len(runs) == 1:
        return sorted(p for p in runs[0].iterdir() if p.is_file() and EVENT_FILE_MARK in p.name)
    if not runs:
        raise EventFileError(f"no TensorBoard event files (events.out.tfevents.*) under {folder}")
    names = ", ".join(str(r.relative_to(folder)) for r in runs[:10])
    raise EventFileError(f"{folder} holds {len(runs)} runs ({names}): name the run directory to compare")


def merge_run(files: list[list[Scalar]]) -> list[Scalar]:
    """One run's scalars from all its files, in the order they were written, restarts applied.

    Files are taken in order of their first wall time (a restarted job opens a new file),
    records within a file in the order they were written (wall clocks can step back; the
    file cannot).  When a step goes back (the job restarted from a checkpoint), what had been
    logged from that step on belongs to the abandoned attempt and is dropped, as TensorBoard
    purges orphaned data; the restarted attempt's values stand.
    """
    ordered = [s for f in sorted((f for f in files if f), key=lambda f: (min(x.wall_time for x in f), f[0].step))
               for s in f]
    kept: list[Scalar] = []
    last_step: dict[str, int] = {}
    for scalar in ordered:
        if scalar.tag in last_step and scalar.step <= last_step[scalar.tag]:
            kept = [k for k in kept if k.tag != scalar.tag or k.step < scalar.step]
        kept.append(scalar)
        last_step[scalar.tag] = scalar.step
    return kept


def read_run(folder: Path) -> list[Scalar]:
    """Every scalar of a run directory, merged (see :func:`merge_run`)."""
    return merge_run([read_scalars(path) for path in run_files(folder)])


def looks_like_event_file(path: Path) -> bool:
    with open(path, "rb") as stream:
        header = stream.read(12)
    return len(header) == 12 and masked_crc32c(header[:8]) == struct.unpack("<I", header[8:])[0]


# --- writing (tests, demo data) -------------------------------------------------


def _key(number: int, wire: int) -> bytes:
    return _encode_varint(number << 3 | wire)


def _encode_varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _len_field(number: int, payload: bytes) -> bytes:
    return _key(number, 2) + _encode_varint(len(payload)) + payload


def encode_event(step: int, wall_time: float, scalars: dict[str, float] | None = None,
                 file_version: str | None = None, as_tensor: bool = False) -> bytes:
    """A tensorflow.Event record (tests and demo data write their curves with it)."""
    out = _key(1, 1) + struct.pack("<d", wall_time)
    if step:
        out += _key(2, 0) + _encode_varint(step)
    if file_version is not None:
        out += _len_field(3, file_version.encode())
    if scalars:
        summary = b""
        for tag, value in scalars.items():
            if as_tensor:  # TensorProto{dtype: DT_FLOAT, tensor_shape: {}, float_val: [value]}
                tensor = _key(1, 0) + _encode_varint(1) + _len_field(2, b"") + _len_field(5, struct.pack("<f", value))
                body = _len_field(1, tag.encode()) + _len_field(8, tensor)
            else:
                body = _len_field(1, tag.encode()) + _key(2, 5) + struct.pack("<f", value)
            summary += _len_field(1, body)
        out += _len_field(5, summary)
    return out


def write_scalars(path: Path, points: list[tuple[int, float]], tag: str = "loss",
                  start_time: float = 1_700_000_000.0, as_tensor: bool = False) -> None:
    """A minimal event file as a SummaryWriter would leave it: a version record, then one scalar per step."""
    with open(path, "wb") as out:
        out.write(frame_record(encode_event(0, start_time, file_version="brain.Event:2")))
        for i, (step, value) in enumerate(points):
            out.write(frame_record(encode_event(step, start_time + i, {tag: value}, as_tensor=as_tensor)))
