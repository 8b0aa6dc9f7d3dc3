"""A small GGUF v3 writer (the format of src/formats/gguf_writer.cpp) and bitnet.cpp's I2_S packing.

GGUF: magic, version, tensor and key counts, the key/value pairs, the tensor descriptors (name, dims with
ne[0] the row length, type id, offset in the data section), padding to the alignment, then each tensor's
bytes padded to the alignment.
"""
import struct

import numpy as np

ALIGNMENT = 32
F32, F16, I2_S = 0, 1, 36  # ggml type ids
# GGUF value types
U32, I32, F32V, BOOL, STRING, ARRAY = 4, 5, 6, 7, 8, 9


def pack_i2_s(codes, scale):
    """codes: ternary values (any shape, row-major = element order), scale: the tensor's f32 scale.

    Blocks of 128 elements in 32 bytes: element e of a block sits in byte e % 32 at bit shift
    6 - 2 * (e // 32), as code w + 1. After the n/4 code bytes: the f32 scale, padded to 32 bytes.
    """
    c = (np.asarray(codes, dtype=np.int64).reshape(-1) + 1).astype(np.uint8)
    n = c.size
    if n % 128 != 0 or c.max() > 2:
        raise ValueError("I2_S needs ternary codes in blocks of 128 elements")
    blocks = c.reshape(-1, 4, 32)  # [block][e // 32][e % 32]
    packed = (blocks[:, 0] << 6) | (blocks[:, 1] << 4) | (blocks[:, 2] << 2) | blocks[:, 3]
    trailer = struct.pack("<f", scale) + bytes(ALIGNMENT - 4)
    return packed.astype(np.uint8).tobytes() + trailer


def _str(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def _value(v):
    """(type, payload) for a Python value: bool, int (u32), float (f32), str, or a list of one kind."""
    if isinstance(v, bool):
        return BOOL, struct.pack("<B", v)
    if isinstance(v, int):
        return U32, struct.pack("<I", v)
    if isinstance(v, float):
        return F32V, struct.pack("<f", v)
    if isinstance(v, str):
        return STRING, _str(v)
    if isinstance(v, list):
        if all(isinstance(x, str) for x in v):
            return ARRAY, struct.pack("<IQ", STRING, len(v)) + b"".join(_str(x) for x in v)
        if all(isinstance(x, float) for x in v):
            return ARRAY, struct.pack("<IQ", F32V, len(v)) + np.asarray(v, dtype="<f4").tobytes()
        if all(isinstance(x, int) for x in v):
            return ARRAY, struct.pack("<IQ", I32, len(v)) + np.asarray(v, dtype="<i4").tobytes()
    raise TypeError("no GGUF type for %r" % type(v))


class Writer:
    def __init__(self):
        self.kv = []
        self.tensors = []

    def add(self, key, value):
        self.kv.append((key, value))

    def add_tensor(self, name, ggml_type, ne, data):
        """ne: dims with ne[0] the row length (GGUF order); data: the tensor's bytes."""
        self.tensors.append((name, ggml_type, list(ne), data))

    def write(self, path):
        out = bytearray(b"GGUF" + struct.pack("<IQQ", 3, len(self.tensors), len(self.kv)))
        for key, value in self.kv:
            t, payload = _value(value)
            out += _str(key) + struct.pack("<I", t) + payload
        offset = 0
        for name, ggml_type, ne, data in self.tensors:
            out += _str(name) + struct.pack("<I", len(ne)) + struct.pack("<%dQ" % len(ne), *ne)
            out += struct.pack("<IQ", ggml_type, offset)
            offset += -(-len(data) // ALIGNMENT) * ALIGNMENT
        out += bytes(-len(out) % ALIGNMENT)
        for _, _, _, data in self.tensors:
            out += data + bytes(-len(data) % ALIGNMENT)
        with open(path, "wb") as f:
            f.write(out)
