"""Removing what a photo says about its owner, without touching a pixel.

A photograph straight from a phone carries EXIF (often GPS coordinates, the device, the time),
XMP and IPTC blocks and comments. Images people send as feedback are kept for training, where
only the pixels matter, so those blocks are dropped losslessly: JPEG's APP1 (EXIF, XMP), APP13
(IPTC) and comment segments, and PNG's eXIf, text and time chunks. Blocks that change how the
pixels are read stay: JPEG's JFIF (APP0), ICC profile (APP2) and Adobe (APP14) segments, and
every PNG chunk but those. Other formats are returned as they are.
"""

from __future__ import annotations

import struct

_JPEG_DROPPED = {0xE1, 0xED, 0xFE}  # APP1 (EXIF, XMP), APP13 (IPTC), COM
_PNG_DROPPED = {b"eXIf", b"tEXt", b"zTXt", b"iTXt", b"tIME"}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def strip_metadata(data: bytes) -> bytes:
    """The same image without metadata blocks (JPEG, PNG); other bytes unchanged."""
    if data[:2] == b"\xff\xd8":
        return _strip_jpeg(data)
    if data[:8] == _PNG_SIGNATURE:
        return _strip_png(data)
    return data


def _strip_jpeg(data: bytes) -> bytes:
    kept = [data[:2]]
    position = 2
    while position + 4 <= len(data) and data[position] == 0xFF:
        marker = data[position + 1]
        if marker == 0xDA:  # start of scan: the entropy-coded image follows, kept as it is
            break
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        end = position + 2 + length
        if marker not in _JPEG_DROPPED:
            kept.append(data[position:end])
        position = end
    return b"".join(kept) + data[position:]


def _strip_png(data: bytes) -> bytes:
    kept = [_PNG_SIGNATURE]
    position = 8
    while position + 8 <= len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        end = position + 12 + length  # length, type, data, CRC
        if kind not in _PNG_DROPPED:
            kept.append(data[position:end])
        position = end
    return b"".join(kept) + data[position:]
