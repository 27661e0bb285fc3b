"""keras.preprocessing's names: not in gputrain yet. Each says so, and what to do instead."""
from __future__ import annotations


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    raise NotImplementedError(f"gputrain.preprocessing.{name} is not supported yet: gputrain trains on arrays in "
                              f"memory. Read the images into a NumPy array (NHWC, uint8 or float32) with PIL or "
                              f"imageio and pass it to fit; uint8 images travel to the GPU as bytes.")
