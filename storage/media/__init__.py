"""Audio inspection with the real tools: sniffing, probing, tags, C2PA, quality, fingerprints."""

from storage.media.inspector import FfmpegMediaInspector

__all__ = ["FfmpegMediaInspector"]
