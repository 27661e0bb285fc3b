"""The parts of keras.backend a Keras program calls: clear_session and the fixed conventions gputrain
trains with (float32, channels last, Keras's epsilon)."""
from __future__ import annotations

from .layers import clear_session  # noqa: F401  (keras.backend.clear_session)


def floatx() -> str:
    return "float32"


def image_data_format() -> str:
    return "channels_last"


def epsilon() -> float:
    return 1e-7


def backend() -> str:
    return "gputrain"
