"""Images from cameras and phones: validated, stripped of metadata, faces blurred.

An uploaded image is never stored as sent. Its real type is read from its first bytes (the
declared content type is the caller's claim, not evidence), its dimensions are checked from
the header before any pixel is decoded, and the pixels are re-encoded into a new file: EXIF
(GPS included), XMP, ICC profiles, text chunks and comments stay behind because nothing but
pixels is copied. Two versions come out: ``clean`` (the whole picture, for the uploader and
authorized enterprise roles) and ``redacted`` (the same with every detected face pixelated,
for everyone else).

Faces are found by OpenCV's frontal-face Haar cascade, which ships inside
opencv-python-headless 4.x (5.x ships none): nothing is downloaded at run time. The cascade
sees frontal faces only; profiles and heavily occluded faces can be missed.
"""

from __future__ import annotations

import io
import logging
import os
import struct
import threading
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np
from PIL import Image, ImageCms, ImageFilter, ImageOps

from backend.core.errors import (
    BadInput,
    ConfigurationError,
    PayloadTooLarge,
    UnsupportedMediaType,
)

log = logging.getLogger("anjian.privacy.images")

# Real type by signature. WebP is a RIFF container whose form type sits at bytes 8..12.
_JPEG = "image/jpeg"
_PNG = "image/png"
_WEBP = "image/webp"
# Pillow's JPEG opener also reads multi-picture files (phones): the first picture is kept.
_PILLOW_FORMATS = {_JPEG: ("JPEG",), _PNG: ("PNG",), _WEBP: ("WEBP",)}
EXTENSIONS = {_JPEG: "jpg", _PNG: "png", _WEBP: "webp"}
# Types people send by mistake, named in the refusal so the sender knows what went wrong.
_OTHER_SIGNATURES = (
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"%PDF-", "PDF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"<svg", "SVG"),
    (b"<?xml", "XML/SVG"),
)

# Faces are pixelated into this many cells across their longer side, then smoothed: coarse
# enough that nobody can be recognised, and no detail of the face survives to be sharpened.
_CELLS_ACROSS = 6
# Share of a face box added on every side: the cascade's box is tight around eyes and mouth,
# and hair, ears and jaw identify people too.
_MARGIN = 0.25
_JPEG_QUALITY = 90
_WEBP_QUALITY = 90

# Decoding holds width × height × 4 bytes and a few copies: a bounded number at once keeps a
# burst of uploads from exhausting memory, whatever the size of the thread pool calling us.
_DECODING = threading.BoundedSemaphore(max(1, os.cpu_count() or 1))

# Photos people attach (work orders, notices, public hazard reports): what is taken.
PHOTO_TYPES = {_JPEG: "jpg", _PNG: "png"}
MAX_PHOTO_BYTES = 8 * 1024 * 1024
MAX_PHOTO_PIXELS = 25_000_000

Box = tuple[int, int, int, int]
"""A face: left, top, width, height in pixels of the full-size image."""


@dataclass(frozen=True)
class SanitizedImage:
    content_type: str
    width: int
    height: int
    clean: bytes  # the whole picture re-encoded from its pixels: no metadata
    redacted: bytes  # the same with every detected face pixelated (``clean`` when none)
    faces: int


class FaceDetector(Protocol):
    def detect(self, image: Image.Image) -> list[Box]:
        """Face boxes in ``image``'s own pixel coordinates (an upright RGB or RGBA image)."""
        ...


class HaarFaceDetector:
    """OpenCV's frontal-face cascade, run on a downscaled grey copy for speed.

    ``detect_side`` is the longer side the copy is scaled to; a face is found when it spans
    at least ``min_face`` pixels there, so a 1920-pixel-wide frame finds faces from about
    ``min_face × 1920 / detect_side`` pixels up.
    """

    CASCADE = "haarcascade_frontalface_default.xml"

    def __init__(self, *, detect_side: int = 960, min_face: int = 20, min_neighbors: int = 5):
        self.detect_side = detect_side
        self.min_face = min_face
        self.min_neighbors = min_neighbors
        self._path = os.path.join(cv2.data.haarcascades, self.CASCADE)
        # OpenCV's classifier and equaliser are not safe to share between threads; one of each
        # per thread is cheap.
        self._local = threading.local()
        self._classifier()  # a missing cascade fails here, not on the first upload

    def _classifier(self) -> cv2.CascadeClassifier:
        classifier: cv2.CascadeClassifier | None = getattr(self._local, "classifier", None)
        if classifier is None:
            if not os.path.isfile(self._path):
                raise ConfigurationError(
                    f"OpenCV's face cascade {self.CASCADE} is missing: install "
                    "opencv-python-headless<5 (5.x ships no Haar cascades)"
                )
            classifier = cv2.CascadeClassifier(self._path)
            if classifier.empty():
                raise ConfigurationError(f"OpenCV could not load {self._path}")
            self._local.classifier = classifier
        return classifier

    def _equaliser(self) -> cv2.CLAHE:
        equaliser: cv2.CLAHE | None = getattr(self._local, "equaliser", None)
        if equaliser is None:
            equaliser = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8))
            self._local.equaliser = equaliser
        return equaliser

    def detect(self, image: Image.Image) -> list[Box]:
        grey = image.convert("L")
        scale = min(1.0, self.detect_side / max(grey.size))
        if scale < 1.0:
            small = (max(1, round(grey.width * scale)), max(1, round(grey.height * scale)))
            grey = grey.resize(small, Image.Resampling.BOX)
        # Local contrast equalisation: a face in a dim corner of a bright yard gets the same
        # contrast as one in the light (a global histogram stretch favours the background).
        pixels = self._equaliser().apply(np.asarray(grey))
        found = self._classifier().detectMultiScale(
            pixels,
            scaleFactor=1.1,
            minNeighbors=self.min_neighbors,
            minSize=(self.min_face, self.min_face),
        )
        return [
            (round(x / scale), round(y / scale), round(w / scale), round(h / scale))
            for x, y, w, h in found
        ]


_default_detector: HaarFaceDetector | None = None
_default_lock = threading.Lock()


def default_detector() -> FaceDetector:
    """The process's cascade, loaded on first use."""
    global _default_detector
    with _default_lock:
        if _default_detector is None:
            _default_detector = HaarFaceDetector()
        return _default_detector


def sniff(data: bytes) -> str:
    """The content type the bytes really are; BadInput for anything but JPEG, PNG or WebP."""
    if data.startswith(b"\xff\xd8\xff"):
        return _JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return _PNG
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _WEBP
    head = data[:16].lstrip()
    for signature, name in _OTHER_SIGNATURES:
        if head.startswith(signature):
            raise BadInput(f"{name} images are not accepted: send JPEG, PNG or WebP")
    raise BadInput("the data is not a JPEG, PNG or WebP image")


def sanitize(
    data: bytes, *, max_bytes: int, max_pixels: int, detector: FaceDetector | None = None
) -> SanitizedImage:
    """Validate ``data`` and re-encode it without metadata, once whole and once with faces
    pixelated. Raises BadInput for anything that is not a sound JPEG, PNG or WebP image within
    ``max_bytes`` and ``max_pixels``."""
    if len(data) > max_bytes:
        raise BadInput(f"the image is {len(data)} bytes; at most {max_bytes} are accepted")
    content_type = sniff(data)
    with _DECODING:
        picture = _decode(data, content_type, max_pixels)
        faces = (detector or default_detector()).detect(picture)
        clean = _encode(picture, content_type)
        redacted = _encode(_redact(picture, faces), content_type) if faces else clean
    return SanitizedImage(content_type, picture.width, picture.height, clean, redacted, len(faces))


# -- decoding ---------------------------------------------------------------------------------


def _decode(data: bytes, content_type: str, max_pixels: int) -> Image.Image:
    """Upright pixels in RGB or RGBA, with nothing else attached."""
    formats = _PILLOW_FORMATS[content_type]
    try:
        with Image.open(io.BytesIO(data), formats=formats) as header:
            # Image.open reads only the header: refuse a bomb before a pixel is decoded.
            width, height = header.size
            if width < 1 or height < 1:
                raise BadInput(f"the image declares an empty size {width}×{height}")
            if width * height > max_pixels:
                raise BadInput(
                    f"the image declares {width}×{height} pixels; at most {max_pixels} "
                    "pixels are accepted"
                )
            header.verify()  # chunk checksums and structure, where the format has them
        with Image.open(io.BytesIO(data), formats=formats) as image:
            if image.size != (width, height):
                raise BadInput("the image header changed between reads")
            image.load()
            upright = ImageOps.exif_transpose(image)
            pixels = _to_srgb(upright)
    except BadInput:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's own process-wide guard; ours above is the tighter one, but both refuse.
        raise BadInput(f"the image is too large to decode safely: {exc}") from None
    except Warning as exc:
        # Only reached where warnings are errors: Pillow warns about damaged data it decodes.
        raise BadInput(f"the image is damaged: {exc}") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, struct.error) as exc:
        # Pillow reports a truncated or corrupt file through any of these.
        raise BadInput(f"the image is corrupt or truncated: {exc}") from None
    # Copy only the pixels: no ``info`` (EXIF, XMP, ICC, text, comments) can ride along.
    return Image.frombytes(pixels.mode, pixels.size, pixels.tobytes())


def _to_srgb(image: Image.Image) -> Image.Image:
    """RGB or RGBA in sRGB, so the dropped ICC profile does not shift the colours."""
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit greyscale (thermal cameras): keep the top 8 bits rather than clipping.
        image = Image.fromarray((np.asarray(image).astype(np.uint32) >> 8).astype(np.uint8))
    icc = image.info.get("icc_profile")
    if icc and image.mode in ("RGB", "CMYK", "L"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            image = ImageCms.profileToProfile(
                image, source, ImageCms.createProfile("sRGB"), outputMode="RGB"
            )
        except ImageCms.PyCMSError as exc:
            # A broken profile must not cost a safety photo: its pixels are used as they are.
            log.warning("ignoring an unusable ICC profile: %s", exc)
    return image.convert("RGBA" if has_alpha else "RGB")


# -- faces ------------------------------------------------------------------------------------


def _redact(image: Image.Image, faces: list[Box]) -> Image.Image:
    out = image.copy()
    for left, top, width, height in faces:
        dx, dy = round(width * _MARGIN), round(height * _MARGIN)
        x0, y0 = max(0, left - dx), max(0, top - dy)
        x1, y1 = min(image.width, left + width + dx), min(image.height, top + height + dy)
        if x1 <= x0 or y1 <= y0:
            continue
        region = out.crop((x0, y0, x1, y1))
        cell = max(1, max(region.size) // _CELLS_ACROSS)
        coarse = region.resize(
            (max(1, region.width // cell), max(1, region.height // cell)), Image.Resampling.BOX
        ).resize(region.size, Image.Resampling.NEAREST)
        out.paste(coarse.filter(ImageFilter.GaussianBlur(cell / 2)), (x0, y0))
    return out


# -- encoding ---------------------------------------------------------------------------------


def _encode(image: Image.Image, content_type: str) -> bytes:
    buffer = io.BytesIO()
    if content_type == _JPEG:
        rgb = image.convert("RGB") if image.mode != "RGB" else image
        rgb.save(buffer, "JPEG", quality=_JPEG_QUALITY)
    elif content_type == _PNG:
        image.save(buffer, "PNG")
    else:
        image.save(buffer, "WEBP", quality=_WEBP_QUALITY)
    return buffer.getvalue()


def photo_media_type(content_type: str) -> tuple[str, str]:
    """The media type a photo upload declares and the extension it is stored with;
    ``UnsupportedMediaType`` for anything but JPEG and PNG."""
    declared = content_type.split(";")[0].strip().lower()
    extension = PHOTO_TYPES.get(declared)
    if extension is None:
        raise UnsupportedMediaType("photos are image/jpeg or image/png")
    return declared, extension


def sanitise_photo(content_type: str, data: bytes) -> tuple[bytes, str, str]:
    """The upload as it is kept: re-encoded from its pixels (no EXIF, no GPS) with every face
    pixelated; with its media type and extension. Refused when it is not the JPEG or PNG it
    says it is, or is over 8 MiB. CPU-bound: call it from a worker thread."""
    declared, extension = photo_media_type(content_type)
    if len(data) > MAX_PHOTO_BYTES:
        raise PayloadTooLarge("a photo is at most 8 MiB")
    if sniff(data) != declared:
        raise BadInput(f"the body is not a {declared} image")
    image = sanitize(data, max_bytes=MAX_PHOTO_BYTES, max_pixels=MAX_PHOTO_PIXELS)
    return image.redacted, declared, extension
