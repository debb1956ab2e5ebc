"""Read a TensorFlow checkpoint (format V2) with numpy alone.

A V2 checkpoint is two files: ``<prefix>.index``, a LevelDB-format table (sorted key ->
value blocks, uncompressed here) whose keys are tensor names and whose values are
``BundleEntryProto`` messages (dtype, shape, byte offset and size in the data file), and
``<prefix>.data-00000-of-00001``, the tensors' raw little-endian bytes, back to back.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from moodtune.errors import ModelNotFound

_MAGIC = 0xDB4775248B80FB57  # LevelDB table magic number (footer's last 8 bytes)
_FOOTER = 48
# TensorFlow DataType enum -> numpy dtype (the ones a checkpoint of this kind holds)
_DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 9: np.int64, 10: np.bool_, 19: np.float16}


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def _block(data: bytes, offset: int, size: int) -> list[tuple[bytes, bytes]]:
    """The (key, value) entries of one table block (keys are prefix-compressed)."""
    if data[offset + size] != 0:
        raise ModelNotFound("checkpoint index block is compressed; only uncompressed tables are read")
    block = data[offset : offset + size]
    n_restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    end = len(block) - 4 - 4 * n_restarts
    entries, pos, key = [], 0, b""
    while pos < end:
        shared, pos = _varint(block, pos)
        unshared, pos = _varint(block, pos)
        value_len, pos = _varint(block, pos)
        key = key[:shared] + block[pos : pos + unshared]
        pos += unshared
        entries.append((key, block[pos : pos + value_len]))
        pos += value_len
    return entries


def _handle(buf: bytes, pos: int = 0) -> tuple[int, int, int]:
    offset, pos = _varint(buf, pos)
    size, pos = _varint(buf, pos)
    return offset, size, pos


def _fields(msg: bytes):
    """(field number, wire type, value) of a protobuf message; length-delimited values as bytes."""
    pos = 0
    while pos < len(msg):
        tag, pos = _varint(msg, pos)
        number, wire = tag >> 3, tag & 7
        value: int | bytes
        if wire == 0:
            value, pos = _varint(msg, pos)
        elif wire == 1:
            value, pos = msg[pos : pos + 8], pos + 8
        elif wire == 2:
            length, pos = _varint(msg, pos)
            value, pos = msg[pos : pos + length], pos + length
        elif wire == 5:
            value, pos = msg[pos : pos + 4], pos + 4
        else:
            raise ModelNotFound(f"unexpected protobuf wire type {wire} in a checkpoint entry")
        yield number, wire, value


def _entry(value: bytes) -> tuple[int, tuple[int, ...], int, int, int]:
    """dtype, shape, shard, offset, size of a ``BundleEntryProto``."""
    dtype, shape, shard, offset, size = 0, [], 0, 0, 0
    for number, _wire, v in _fields(value):
        if number == 1:
            dtype = v
        elif number == 2:  # TensorShapeProto: repeated Dim (field 2) with size (field 1)
            for n, _w, dim in _fields(v):
                if n == 2:
                    shape.append(next((s for k, _x, s in _fields(dim) if k == 1), 0))
        elif number == 3:
            shard = v
        elif number == 4:
            offset = v
        elif number == 5:
            size = v
    return dtype, tuple(shape), shard, offset, size


def read_index(index_path: str | Path) -> dict[str, tuple[int, tuple[int, ...], int, int, int]]:
    """Every tensor entry of a checkpoint ``.index`` file: name -> (dtype, shape, shard, offset, size)."""
    data = Path(index_path).read_bytes()
    if len(data) < _FOOTER or struct.unpack_from("<Q", data, len(data) - 8)[0] != _MAGIC:
        raise ModelNotFound(f"{index_path} is not a TensorFlow checkpoint index (LevelDB table)")
    footer = data[-_FOOTER:]
    _meta_off, _meta_size, pos = _handle(footer)
    index_off, index_size, _ = _handle(footer, pos)
    entries = {}
    for _last_key, handle in _block(data, index_off, index_size):
        offset, size, _ = _handle(handle)
        for key, value in _block(data, offset, size):
            if key:  # the empty key holds the bundle header
                entries[key.decode()] = _entry(value)
    return entries


def load_checkpoint(prefix: str | Path) -> dict[str, np.ndarray]:
    """Every tensor of the checkpoint at ``prefix`` (``prefix.index`` + ``prefix.data-00000-of-00001``)."""
    prefix = str(prefix)
    index = read_index(prefix + ".index")
    shards: dict[int, bytes] = {}
    tensors: dict[str, np.ndarray] = {}
    for name, (dtype, shape, shard, offset, size) in index.items():
        if dtype not in _DTYPES:
            continue  # e.g. strings: nothing the network needs
        if shard not in shards:
            shards[shard] = Path(f"{prefix}.data-{shard:05d}-of-00001").read_bytes()
        arr: np.ndarray = np.frombuffer(
            shards[shard],
            dtype=_DTYPES[dtype],
            count=size // np.dtype(_DTYPES[dtype]).itemsize,
            offset=offset,
        )
        tensors[name] = arr.reshape(shape).copy()
    return tensors
