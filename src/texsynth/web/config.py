"""The server's settings and limits (``texsynth serve`` options)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["WebConfig"]


@dataclass(frozen=True)
class WebConfig:
    """Settings of :func:`texsynth.web.server.create_app`.

    Attributes
    ----------
    data
        Folder of the results (``jobs/``) and trained generators (``generators/``).
    workers
        Syntheses run at once (one per worker; the rest queue).
    max_upload_mb
        Largest uploaded file.
    max_pixels
        Largest uploaded image, in pixels (decompression bombs are refused by it).
    max_size
        Largest output side.
    max_n
        Most variations per job.
    max_waiting
        Most jobs waiting at once.
    max_result_bytes, expiry_s
        Size cap and lifetime of the results kept under ``data``.
    """

    data: Path
    workers: int = 1
    max_upload_mb: float = 20.0
    max_pixels: int = 4096 * 4096
    max_size: int = 1024
    max_n: int = 8
    max_waiting: int = 32
    max_result_bytes: int = 2 << 30
    expiry_s: float = 24 * 3600.0

    @property
    def max_upload_bytes(self) -> int:
        """:attr:`max_upload_mb` in bytes."""
        return int(self.max_upload_mb * 2**20)
