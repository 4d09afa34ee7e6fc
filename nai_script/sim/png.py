"""A tiny PNG encoder (zlib + struct) and the simulator's deterministic picture.

The simulator must answer image requests with real images of the right size without any
imaging library; a seeded gradient with a checker pattern is cheap, recognisable and stable.
"""

from __future__ import annotations

import hashlib
import struct
import zlib

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def encode_png(
    width: int, height: int, rows: list[bytes], *, text: dict[str, str] | None = None
) -> bytes:
    """An 8-bit RGB PNG from ``height`` rows of ``width * 3`` bytes each."""
    if width <= 0 or height <= 0:
        raise ValueError(f"PNG size must be positive, got {width}x{height}")
    if len(rows) != height or any(len(row) != width * 3 for row in rows):
        raise ValueError(f"expected {height} rows of {width * 3} bytes")
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    raw = b"".join(b"\x00" + row for row in rows)  # filter type 0 on every scanline
    chunks = [_chunk(b"IHDR", header)]
    for key, value in (text or {}).items():
        chunks.append(
            _chunk(b"tEXt", key.encode("latin-1") + b"\x00" + value.encode("latin-1", "replace"))
        )
    chunks.append(_chunk(b"IDAT", zlib.compress(raw, 6)))
    chunks.append(_chunk(b"IEND", b""))
    return PNG_SIGNATURE + b"".join(chunks)


def seed_picture(seed: int, width: int, height: int, *, label: str = "") -> bytes:
    """A deterministic picture for ``seed``: a two-colour gradient with a 32-pixel checker.

    Same seed and size give the same bytes; the PNG carries a ``Software`` text chunk saying
    it came from the simulator, as everything the simulator makes is labelled.
    """
    digest = hashlib.blake2b(f"{seed}:{label}".encode(), digest_size=6).digest()
    start, end = digest[:3], digest[3:]
    rows: list[bytes] = []
    for y in range(height):
        t = y / max(height - 1, 1)
        base = bytes(int(a + (b - a) * t) for a, b in zip(start, end, strict=True))
        shade = bytes(max(c - 40, 0) for c in base)
        band = (y // 32) % 2
        cells = [base if ((x // 32) % 2) ^ band else shade for x in range(0, width, 32)]
        row = b"".join(cell * 32 for cell in cells)[: width * 3]
        rows.append(row)
    return encode_png(
        width, height, rows, text={"Software": "nai-script simulator", "Comment": f"seed={seed}"}
    )
