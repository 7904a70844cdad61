"""Read what made an image, whichever tool wrote it. One module per dialect."""

from studio.library.metadata.model import ImageMetadata
from studio.library.metadata.reader import read_metadata, read_texts
from studio.library.pngchunks import UnreadableImage

__all__ = ["ImageMetadata", "UnreadableImage", "read_metadata", "read_texts"]
