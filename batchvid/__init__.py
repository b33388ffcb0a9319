"""batchvid: a manifest of video shots -> mp4 files and an honest cost ledger."""

__version__ = "0.1.0"
