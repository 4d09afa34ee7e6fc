"""The image endpoint answers with a zip of PNGs; this turns it into PNG bytes and back.

NovelAI labels the zip ``application/x-zip-compressed`` (what the simulator sends); clients also
meet ``binary/octet-stream`` and the seed documents ``application/zip``: all three are accepted.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
from collections.abc import Sequence

ZIP_CONTENT_TYPES: tuple[str, ...] = (
    "application/x-zip-compressed",
    "application/zip",
    "binary/octet-stream",
)
# What the simulator and NovelAI send.
SENT_CONTENT_TYPE = ZIP_CONTENT_TYPES[0]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class ImageArchiveError(ValueError):
    """The body is not a zip of PNG images; the message says what was found instead."""


def is_zip_content_type(content_type: str | None) -> bool:
    """True for the zip content types, ignoring case and parameters (``; charset=...``)."""
    if not content_type:
        return False
    return content_type.split(";", 1)[0].strip().lower() in ZIP_CONTENT_TYPES


def _entry_order(name: str) -> tuple[int, str]:
    # NovelAI names entries image_0.png, image_1.png...; sort numerically so 10 follows 9.
    match = re.search(r"(\d+)(?=\.png$)", name, re.IGNORECASE)
    return (int(match.group(1)) if match else 1 << 30, name)


def unpack_images(body: bytes, content_type: str | None = None) -> list[bytes]:
    """The PNGs inside an image zip, in sample order.

    ``content_type`` (when given) must be one of :data:`ZIP_CONTENT_TYPES`; every entry must be
    a PNG. Directories and empty entries are skipped.
    """
    if content_type is not None and not is_zip_content_type(content_type):
        raise ImageArchiveError(
            f"content type {content_type!r} is not an image zip "
            f"(expected one of: {', '.join(ZIP_CONTENT_TYPES)})"
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(body))
    except zipfile.BadZipFile:
        raise ImageArchiveError(
            f"response body is not a zip archive ({len(body)} bytes, starts {body[:8]!r})"
        ) from None
    images: list[bytes] = []
    with archive:
        names = sorted(
            (info.filename for info in archive.infolist() if not info.is_dir()), key=_entry_order
        )
        for name in names:
            data = archive.read(name)
            if not data:
                continue
            if not data.startswith(PNG_SIGNATURE):
                raise ImageArchiveError(f"zip entry {name!r} is not a PNG image")
            images.append(data)
    if not images:
        raise ImageArchiveError("image zip holds no PNG images")
    return images


def pack_images(images: Sequence[bytes]) -> bytes:
    """A zip of PNGs named the way NovelAI names them (``image_0.png``...)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for index, image in enumerate(images):
            archive.writestr(f"image_{index}.png", image)
    return buffer.getvalue()


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk."""
    if not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        raise ImageArchiveError("not a PNG image (missing signature or IHDR)")
    width, height = struct.unpack(">II", data[16:24])
    return width, height
