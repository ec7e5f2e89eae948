"""TensorBoard event files: framing with masked CRC32C, protobuf decoding, checked against protobuf itself."""

from __future__ import annotations

import struct
from pathlib import Path

import google_crc32c
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from engine.errors import BadInputError
from engine.verify import tfevents
from engine.verify.curves import read_curve


def test_crc32c_and_mask_match_the_published_values() -> None:
    assert google_crc32c.value(b"123456789") == 0xE3069283  # the CRC-32C check value
    crc = 0xE3069283
    assert tfevents.masked_crc32c(b"123456789") == (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _event_classes():
    """tensorflow.Event / Summary / TensorProto (the fields we read), built with protobuf's own encoder."""
    f = descriptor_pb2.FileDescriptorProto(name="tb_test.proto", package="tbtest", syntax="proto3")
    T = descriptor_pb2.FieldDescriptorProto
    tensor = f.message_type.add(name="TensorProto")
    tensor.field.add(name="dtype", number=1, type=T.TYPE_INT32, label=T.LABEL_OPTIONAL)
    tensor.field.add(name="tensor_content", number=4, type=T.TYPE_BYTES, label=T.LABEL_OPTIONAL)
    tensor.field.add(name="float_val", number=5, type=T.TYPE_FLOAT, label=T.LABEL_REPEATED)
    tensor.field.add(name="half_val", number=13, type=T.TYPE_INT32, label=T.LABEL_REPEATED)
    value = f.message_type.add(name="Value")
    value.field.add(name="tag", number=1, type=T.TYPE_STRING, label=T.LABEL_OPTIONAL)
    value.field.add(name="simple_value", number=2, type=T.TYPE_FLOAT, label=T.LABEL_OPTIONAL,
                    oneof_index=0)
    value.field.add(name="tensor", number=8, type=T.TYPE_MESSAGE, type_name=".tbtest.TensorProto",
                    label=T.LABEL_OPTIONAL, oneof_index=0)
    value.oneof_decl.add(name="value")
    summary = f.message_type.add(name="Summary")
    summary.field.add(name="value", number=1, type=T.TYPE_MESSAGE, type_name=".tbtest.Value", label=T.LABEL_REPEATED)
    event = f.message_type.add(name="Event")
    event.field.add(name="wall_time", number=1, type=T.TYPE_DOUBLE, label=T.LABEL_OPTIONAL)
    event.field.add(name="step", number=2, type=T.TYPE_INT64, label=T.LABEL_OPTIONAL)
    event.field.add(name="file_version", number=3, type=T.TYPE_STRING, label=T.LABEL_OPTIONAL, oneof_index=0)
    event.field.add(name="summary", number=5, type=T.TYPE_MESSAGE, type_name=".tbtest.Summary",
                    label=T.LABEL_OPTIONAL, oneof_index=0)
    event.oneof_decl.add(name="what")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(f)
    return (message_factory.GetMessageClass(pool.FindMessageTypeByName("tbtest.Event")),)


def test_reads_events_encoded_by_protobuf(tmp_path: Path) -> None:
    (Event,) = _event_classes()
    records = []
    version = Event(wall_time=1.5, file_version="brain.Event:2")
    records.append(version.SerializeToString())
    for step, loss in [(1, 2.5), (2, 2.25), (300, 0.125)]:
        e = Event(wall_time=2.0 + step, step=step)
        v = e.summary.value.add(tag="loss", simple_value=loss)
        e.summary.value.add(tag="lr", simple_value=0.1)
        records.append(e.SerializeToString())
    tensor_event = Event(wall_time=9.0, step=400)
    tv = tensor_event.summary.value.add(tag="loss")
    tv.tensor.dtype = 1
    tv.tensor.float_val.append(0.0625)
    records.append(tensor_event.SerializeToString())
    path = tmp_path / "events.out.tfevents.123.host"
    path.write_bytes(b"".join(tfevents.frame_record(r) for r in records))
    assert read_curve(path, "loss") == [(1, 2.5), (2, 2.25), (300, 0.125), (400, 0.0625)]
    assert read_curve(path, "lr")[0] == (1, pytest.approx(0.1))


def test_our_encoder_matches_protobuf(tmp_path: Path) -> None:
    (Event,) = _event_classes()
    ours = tfevents.encode_event(7, 3.0, {"loss": 1.5})
    parsed = Event.FromString(ours)
    assert parsed.step == 7 and parsed.wall_time == 3.0
    assert parsed.summary.value[0].tag == "loss" and parsed.summary.value[0].simple_value == 1.5
    tensor = Event.FromString(tfevents.encode_event(8, 3.0, {"loss": 0.5}, as_tensor=True))
    assert list(tensor.summary.value[0].tensor.float_val) == [0.5]


def test_writer_round_trip_both_value_styles(tmp_path: Path) -> None:
    points = [(0, 2.0), (10, 1.5), (20, 1.25)]
    for as_tensor in (False, True):
        path = tmp_path / f"ev{as_tensor}"
        tfevents.write_scalars(path, points, as_tensor=as_tensor)
        assert read_curve(path) == points


def test_corrupt_data_is_reported_with_its_offset(tmp_path: Path) -> None:
    path = tmp_path / "events.out.tfevents.1"
    tfevents.write_scalars(path, [(1, 1.0), (2, 0.5)])
    data = bytearray(path.read_bytes())
    data[-6] ^= 0xFF  # inside the last record's payload
    path.write_bytes(bytes(data))
    with pytest.raises(BadInputError, match="checksum"):
        read_curve(path)


def test_a_truncated_last_record_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "events.out.tfevents.2"
    tfevents.write_scalars(path, [(1, 1.0), (2, 0.5), (3, 0.25)])
    path.write_bytes(path.read_bytes()[:-7])  # a writer still appending
    assert read_curve(path) == [(1, 1.0), (2, 0.5)]


def test_missing_tag_lists_the_tags(tmp_path: Path) -> None:
    path = tmp_path / "ev"
    tfevents.write_scalars(path, [(1, 1.0)], tag="train/loss")
    with pytest.raises(BadInputError, match="train/loss"):
        read_curve(path, "loss")


def test_frame_layout() -> None:
    framed = tfevents.frame_record(b"abc")
    assert struct.unpack("<Q", framed[:8])[0] == 3 and framed[12:15] == b"abc" and len(framed) == 19


# --- half precision and run directories ------------------------------------------------------------------


def _tensor_event(Event, step: int, wall: float, dtype: int, *, half_bits: int | None = None,
                  content: bytes | None = None) -> bytes:
    e = Event(wall_time=wall, step=step)
    v = e.summary.value.add(tag="loss")
    v.tensor.dtype = dtype
    if half_bits is not None:
        v.tensor.half_val.append(half_bits)
    if content is not None:
        v.tensor.tensor_content = content
    return e.SerializeToString()


def test_fp16_and_bf16_scalars_are_read(tmp_path: Path) -> None:
    """Mixed-precision runs log DT_HALF / DT_BFLOAT16 tensors: half_val holds the 16 bits, or tensor_content."""
    (Event,) = _event_classes()
    fp16_bits = struct.unpack("<H", struct.pack("<e", 1.5))[0]
    bf16_bits = struct.unpack("<I", struct.pack("<f", 0.75))[0] >> 16
    records = [
        _tensor_event(Event, 1, 1.0, tfevents.DT_HALF, half_bits=fp16_bits),
        _tensor_event(Event, 2, 2.0, tfevents.DT_BFLOAT16, half_bits=bf16_bits),
        _tensor_event(Event, 3, 3.0, tfevents.DT_HALF, content=struct.pack("<e", 0.5)),
        _tensor_event(Event, 4, 4.0, tfevents.DT_BFLOAT16, content=struct.pack("<H", bf16_bits)),
    ]
    path = tmp_path / "events.out.tfevents.1.host"
    path.write_bytes(b"".join(tfevents.frame_record(r) for r in records))
    assert read_curve(path) == [(1, 1.5), (2, 0.75), (3, 0.5), (4, 0.75)]


def test_a_run_directory_with_two_files_and_a_restart(tmp_path: Path) -> None:
    """The job logged steps 0-40, died after step 50 was logged, resumed from the step-30 checkpoint."""
    run = tmp_path / "run1"
    run.mkdir()
    first = [(0, 4.0), (10, 3.0), (20, 2.5), (30, 2.0), (40, 1.9), (50, 1.85)]
    resumed = [(30, 2.01), (40, 1.7), (50, 1.6), (60, 1.5)]
    tfevents.write_scalars(run / "events.out.tfevents.1700000000.host.111.0", first, start_time=1_700_000_000.0)
    tfevents.write_scalars(run / "events.out.tfevents.1700000900.host.222.0", resumed, start_time=1_700_000_900.0)
    (run / "notes.txt").write_text("not an event file")
    curve = read_curve(run)
    assert curve == [(0, 4.0), (10, 3.0), (20, 2.5), (30, pytest.approx(2.01)), (40, pytest.approx(1.7)),
                     (50, pytest.approx(1.6)), (60, 1.5)]
    # the log root above one run reads the same; two runs side by side are refused by name
    assert read_curve(tmp_path) == curve
    (tmp_path / "run2").mkdir()
    tfevents.write_scalars(tmp_path / "run2" / "events.out.tfevents.1700009999.host", [(0, 1.0)])
    with pytest.raises(BadInputError, match="2 runs .*run1, run2"):
        read_curve(tmp_path)
