"""What fit needs to know about the notebook platform: the folder that outlives the session, and how
long the session has left (Colab stops after about 12 h, Paperspace's free tier after 6 h)."""
from __future__ import annotations

import functools
import time


@functools.lru_cache(maxsize=1)
def _platform():
    from .probe.api import detect_platform
    return detect_platform(), time.monotonic()


def persistent_dir() -> str | None:
    return _platform()[0].persistent_dir


def seconds_left() -> float | None:
    """Seconds until the platform's session limit, or None where there is none."""
    platform, detected_at = _platform()
    if platform.session_limit is None or platform.session_elapsed is None:
        return None
    return platform.session_limit - platform.session_elapsed - (time.monotonic() - detected_at)
