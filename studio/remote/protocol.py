"""The wire between Studio and `studio serve`: one websocket per run, JSON and binary frames.

Client to server: `{"v": 1, "type": "run", "request": <GenerationRequest.to_dict()>,
"uploads": [field, ...]}`, then one binary upload frame per field named (the start image's or
the mask's file bytes: PNG, JPEG or WebP; the request carries only the file's name, never a path
the server would read), then optionally `{"type": "cancel"}`. Server to client, in order: a
`started` JSON message, a binary step frame per denoising step, binary image frames (PNG,
lossless) and film frames (PNG), then one JSON outcome: `finished`, `cancelled` or `failed`.
Nothing is pickled: JSON and PNG/JPEG/WebP only.

A binary frame is MAGIC, the version byte, a kind byte, a 4-byte big-endian header length, the
header as JSON, then the payload.
"""

from __future__ import annotations

import dataclasses
import io
import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.engine import errors
from studio.engine.run.request import GenerationRequest

PROTOCOL_VERSION = 1
MAGIC = b"SF"
STEP, IMAGE, FILM, UPLOAD = 1, 2, 3, 4  # binary frame kinds
UPLOAD_FIELDS = ("start_image", "mask")  # the request's fields that name a picture
UPLOAD_FORMATS = ("PNG", "JPEG", "WEBP")  # sent as they are; any other picture goes as PNG
# Ray Serve's HTTP proxy takes websocket messages of up to 16 MiB: an upload stays below.
MAX_UPLOAD_BYTES = 15 * 1024 * 1024
MAX_UPLOAD_PIXELS = 8192 * 8192
# A request's JSON: two prompts of PROMPT_MAX_CHARS fit even when every character is escaped
# as a surrogate pair (12 bytes each), with room for the rest of the request.
MAX_MESSAGE_BYTES = 1024 * 1024
MAX_FRAME_BYTES = 256 * 1024 * 1024  # one final image as PNG: 2048x2048 RGBA fits with room
RAW_PREVIEW_BYTES = 8 * 1024  # a preview this small travels raw: encoding it would cost more
PREVIEW_QUALITY = 80
_HEAD = struct.Struct(">2sBBI")


class ProtocolError(ValueError):
    """A message that does not follow the protocol; the text says what was wrong."""


def message(kind: str, **fields: Any) -> str:
    """A JSON message of `kind`, stamped with the protocol version."""
    return json.dumps({"v": PROTOCOL_VERSION, "type": kind, **fields}, separators=(",", ":"))


def read_message(text: str | bytes) -> dict[str, Any]:
    """A JSON message as a dict; ProtocolError when it is too long, not JSON or not an object."""
    if len(text) > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"A message of {len(text):,} bytes is longer than the {MAX_MESSAGE_BYTES:,} allowed.")
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        raise ProtocolError("A message was not JSON.") from None
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise ProtocolError("A message must be a JSON object with a type.")
    return data


def version_problem(data: dict[str, Any]) -> str:
    """Why a message's protocol version cannot be spoken here, or ""."""
    version = data.get("v")
    if version == PROTOCOL_VERSION:
        return ""
    return (f"The other side speaks protocol version {version!r}; this Studio speaks version "
            f"{PROTOCOL_VERSION}. Update Studio on the server or on this computer so both match.")


def frame(kind: int, header: dict[str, Any], payload: bytes = b"") -> bytes:
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    return _HEAD.pack(MAGIC, PROTOCOL_VERSION, kind, len(head)) + head + payload


def read_frame(data: bytes) -> tuple[int, dict[str, Any], bytes]:
    """(kind, header, payload) of a binary frame; ProtocolError when it is not one."""
    if len(data) < _HEAD.size:
        raise ProtocolError("A binary frame was cut short.")
    magic, version, kind, length = _HEAD.unpack_from(data)
    if magic != MAGIC:
        raise ProtocolError("A binary frame did not start as Studio's frames do.")
    if version != PROTOCOL_VERSION:
        raise ProtocolError(version_problem({"v": version}))
    end = _HEAD.size + length
    if length > MAX_MESSAGE_BYTES or end > len(data):
        raise ProtocolError("A binary frame's header is longer than the frame.")
    try:
        header = json.loads(data[_HEAD.size:end])
    except (ValueError, UnicodeDecodeError):
        raise ProtocolError("A binary frame's header was not JSON.") from None
    if not isinstance(header, dict):
        raise ProtocolError("A binary frame's header must be a JSON object.")
    return kind, header, bytes(data[end:])


def encode_preview(preview: Any) -> tuple[dict[str, Any], bytes]:
    """A step preview (HxWx3 uint8) as header fields and bytes: raw when tiny, else JPEG."""
    import numpy as np
    from PIL import Image

    if preview is None:
        return {"format": "none"}, b""
    array = np.ascontiguousarray(preview, dtype=np.uint8)
    height, width = int(array.shape[0]), int(array.shape[1])
    sized = {"width": width, "height": height}
    if array.nbytes <= RAW_PREVIEW_BYTES:
        return {"format": "raw", **sized}, array.tobytes()
    out = io.BytesIO()
    Image.fromarray(array[..., :3]).save(out, format="JPEG", quality=PREVIEW_QUALITY)
    return {"format": "jpeg", **sized}, out.getvalue()


def decode_preview(header: dict[str, Any], payload: bytes) -> Any:
    """The HxWx3 uint8 preview of a step frame, or None when it carries none."""
    import numpy as np

    kind = header.get("format")
    if kind == "none":
        return None
    width, height = header.get("width"), header.get("height")
    if not (isinstance(width, int) and isinstance(height, int) and 0 < width <= 4096 and 0 < height <= 4096):
        raise ProtocolError("A preview's size is missing or out of bounds.")
    if kind == "raw":
        if len(payload) != width * height * 3:
            raise ProtocolError("A raw preview's bytes do not match its size.")
        return np.frombuffer(payload, dtype=np.uint8).reshape(height, width, 3).copy()
    if kind == "jpeg":
        return np.asarray(decode_image(payload, "JPEG").convert("RGB"), dtype=np.uint8)
    raise ProtocolError(f"Unknown preview format {kind!r}.")


def encode_png(image: Any) -> bytes:
    """An image, losslessly, as PNG bytes (fast compression: the wire is not the archive)."""
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=1)
    return out.getvalue()


def encode_film_frame(array: Any) -> bytes:
    from PIL import Image

    return encode_png(Image.fromarray(array))


def decode_image(payload: bytes, expected: str = "PNG") -> Any:
    """A fully loaded PIL image from `payload`; ProtocolError when it is not a `expected` file."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(payload), formats=[expected]) as opened:
            opened.load()
            return opened.copy()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, ValueError):
        raise ProtocolError(f"An image from the server was not a readable {expected} file.") from None


def request_to_json(request: GenerationRequest) -> dict[str, Any]:
    return request.to_dict()


def request_from_json(data: object) -> GenerationRequest:
    """A GenerationRequest from its JSON dict (not yet checked: `check()` names bad values)."""
    if not isinstance(data, dict):
        raise ProtocolError("The request must be a JSON object.")
    try:
        return GenerationRequest.from_dict(data)
    except TypeError:
        raise ProtocolError("The request lacks a prompt.") from None


_CAUSES: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        errors.PickleNeedsConsent, errors.OutOfMemory, errors.ModelProblem, errors.InvalidParameters,
        errors.DeviceProblem, errors.EngineUnavailable, errors.ServerUnavailable, errors.Unexpected,
    )
}


def cause_to_json(cause: Any) -> dict[str, Any]:
    fields = dataclasses.asdict(cause) if dataclasses.is_dataclass(cause) and not isinstance(cause, type) else {}
    return {"kind": type(cause).__name__, **fields}


def cause_from_json(data: object) -> errors.Cause:
    """The typed cause a `failed` message names; Unexpected for one this Studio does not know."""
    if not isinstance(data, dict) or data.get("kind") not in _CAUSES:
        return errors.Unexpected()
    cls = _CAUSES[data["kind"]]
    names = {f.name for f in dataclasses.fields(cls)}
    values = {k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items() if k in names}
    try:
        cause: errors.Cause = cls(**values)
    except TypeError:
        return errors.Unexpected()
    return cause


@dataclass(frozen=True)
class Upload:
    """A picture a request names, as it travels: the field, the file's name (for messages and
    nothing else) and its bytes."""

    field: str
    name: str
    data: bytes


def uploads_for(request: GenerationRequest, max_bytes: int = MAX_UPLOAD_BYTES) -> list[Upload]:
    """The start image and mask of `request` read from this computer's disk, ready to send:
    a PNG, JPEG or WebP file as it is, any other picture re-encoded as PNG (losslessly).
    InvalidRequest in words when a file cannot be read or is too large to send."""
    from PIL import Image

    from studio.engine.run.request import FieldProblem, InvalidRequest
    from studio.engine.run.start_image import open_picture

    found: list[Upload] = []
    for field in UPLOAD_FIELDS:
        path = getattr(request, field)
        if not path:
            continue
        picture = open_picture(path, field)  # the engine's own reader: the same words for a bad file
        name = Path(path).name or field
        with Image.open(path) as probe:
            kind = probe.format
        data = Path(path).read_bytes() if kind in UPLOAD_FORMATS else encode_png(_png_ready(picture))
        if len(data) > max_bytes:
            label = "start image" if field == "start_image" else "mask"
            raise InvalidRequest([FieldProblem(field, (
                f"The {label} {name} is {len(data) / 2**20:.1f} MB to send; the server takes at most "
                f"{max_bytes / 2**20:.0f} MB. Save it smaller, or as JPEG."))])
        found.append(Upload(field, name, data))
    return found


def _png_ready(picture: Any) -> Any:
    """`picture` in a mode PNG keeps exactly (CMYK, floats and the like become RGB or RGBA)."""
    if picture.mode in ("1", "L", "LA", "P", "RGB", "RGBA"):
        return picture
    return picture.convert("RGBA" if "A" in picture.getbands() else "RGB")


def upload_frame(upload: Upload) -> bytes:
    return frame(UPLOAD, {"field": upload.field, "name": upload.name}, upload.data)


def safe_name(name: object, field: str) -> str:
    """A file name from the client that names nothing but itself on the server's disk."""
    text = Path(name).name if isinstance(name, str) else ""
    text = "".join(c if c.isalnum() or c in "._- " else "_" for c in text)[:120].strip(" .")
    return text or f"{field}.png"


def upload_problem(data: bytes, max_bytes: int = MAX_UPLOAD_BYTES, max_pixels: int = MAX_UPLOAD_PIXELS) -> str:
    """Why an uploaded picture will not be used, or "": too many bytes, not a PNG, JPEG or
    WebP file, more pixels than allowed (checked before decoding), damaged or cut short."""
    import warnings

    from PIL import Image, UnidentifiedImageError

    if len(data) > max_bytes:
        return f"is {len(data) / 2**20:.1f} MB; this server takes at most {max_bytes / 2**20:.0f} MB"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=list(UPLOAD_FORMATS)) as picture:
                width, height = picture.size
                if width * height > max_pixels:
                    return (f"is {width}x{height} pixels; this server takes at most "
                            f"{max_pixels:,} pixels")
                picture.load()
    except (UnidentifiedImageError, Image.DecompressionBombWarning, Image.DecompressionBombError):
        return "is not a PNG, JPEG or WebP picture, or has more pixels than this server opens"
    except (OSError, ValueError, SyntaxError, EOFError):
        return "is damaged or cut short"
    return ""
