"""What fit needs to know about the notebook platform: the folder that outlives the session, and how
long the session has left (Colab stops after about 12 h, Paperspace's free tier after 6 h)."""
from __future__ import annotations

import functools
import time
import warnings


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


class SessionGuard:
    """Keeps a training run from being lost to the platform's session limit: once less than `margin_s`
    is left, `save()` runs and a warning says where it went, then `save()` runs again every `resave_s`
    until the session ends (an epoch may outlast the time left). `check()` goes after every step; it
    looks at the clock every `check_every_s`, so its cost per step is one clock read."""

    def __init__(self, save, margin_s: float, check_every_s: float = 30.0, resave_s: float = 300.0,
                 clock=time.monotonic, seconds_left=None):
        self._save, self._margin, self._check_every, self._resave = save, margin_s, check_every_s, resave_s
        self._clock = clock
        self._seconds_left = seconds_left  # None: this module's seconds_left()
        self._next_check = clock()  # the first step looks: a run may start with little time left
        self._saved_at = None

    def check(self) -> None:
        now = self._clock()
        if now < self._next_check:
            return
        self._next_check = now + self._check_every
        if self._saved_at is not None:
            if now - self._saved_at >= self._resave:
                self._save()
                self._saved_at = now
            return
        try:
            left = (self._seconds_left or seconds_left)()
        except Exception:  # platform detection must never stop training
            self._next_check = float("inf")
            return
        if left is None or left > self._margin:
            return
        path = self._save()
        self._saved_at = now
        warnings.warn(f"the notebook session ends in about {max(left, 0) / 60:.0f} minutes: saved {path} "
                      f"(again every {self._resave / 60:.0f} minutes until then); continue in a new session "
                      f"with fit(..., resume=True)")
