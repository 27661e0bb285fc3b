"""keras.preprocessing's names: not in gputrain yet. Each says so, and what to do instead."""
from __future__ import annotations


def __getattr__(name: str):
    from .unsupported import missing
    return missing("preprocessing", name, "training on arrays in memory: read the images into a NumPy array "
                   "(NHWC, uint8 or float32) with PIL or imageio and pass it to fit; uint8 images travel to the GPU "
                   "as bytes")
