"""Zip parsing: several images, each content type, bad bodies; the simulator's PNG encoder."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import pytest

from nai_script.client.image_zip import (
    ZIP_CONTENT_TYPES,
    ImageArchiveError,
    is_zip_content_type,
    pack_images,
    png_size,
    unpack_images,
)
from nai_script.sim.png import PNG_SIGNATURE, encode_png, seed_picture


def _pngs(n: int) -> list[bytes]:
    return [seed_picture(seed, 64, 128) for seed in range(n)]


@pytest.mark.parametrize("content_type", [*ZIP_CONTENT_TYPES, "Application/Zip; charset=binary"])
def test_each_content_type(content_type: str) -> None:
    images = _pngs(3)
    assert unpack_images(pack_images(images), content_type) == images


def test_numeric_entry_order() -> None:
    images = _pngs(12)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for i in reversed(range(12)):  # written out of order
            archive.writestr(f"image_{i}.png", images[i])
    assert unpack_images(buffer.getvalue()) == images


def test_json_content_type_refused() -> None:
    with pytest.raises(ImageArchiveError, match="application/json"):
        unpack_images(pack_images(_pngs(1)), "application/json")
    assert not is_zip_content_type(None)


def test_not_a_zip() -> None:
    with pytest.raises(ImageArchiveError, match="not a zip"):
        unpack_images(b'{"statusCode":500}', "application/zip")


def test_non_png_entry_and_empty_zip() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("image_0.png", b"GIF89a....")
    with pytest.raises(ImageArchiveError, match="not a PNG"):
        unpack_images(buffer.getvalue())
    empty = io.BytesIO()
    zipfile.ZipFile(empty, "w").close()
    with pytest.raises(ImageArchiveError, match="no PNG"):
        unpack_images(empty.getvalue())


def test_png_is_well_formed() -> None:
    data = seed_picture(42, 192, 64)
    assert data.startswith(PNG_SIGNATURE)
    assert png_size(data) == (192, 64)
    # walk the chunks and check every CRC, then decode the pixels
    pos, idat = 8, b""
    kinds = []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        payload = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + payload) & 0xFFFFFFFF == crc
        kinds.append(kind)
        if kind == b"IDAT":
            idat += payload
        pos += 12 + length
    assert kinds[0] == b"IHDR"
    assert kinds[-1] == b"IEND"
    raw = zlib.decompress(idat)
    assert len(raw) == 64 * (1 + 192 * 3)


def test_seed_picture_is_deterministic_and_seed_dependent() -> None:
    assert seed_picture(1, 64, 64) == seed_picture(1, 64, 64)
    assert seed_picture(1, 64, 64) != seed_picture(2, 64, 64)


def test_encode_png_rejects_bad_rows() -> None:
    with pytest.raises(ValueError, match="rows"):
        encode_png(2, 2, [b"\x00" * 6])
    with pytest.raises(ValueError, match="positive"):
        encode_png(0, 2, [])
