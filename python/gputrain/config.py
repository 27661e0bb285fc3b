"""gputrain.config: settings in TensorFlow's words (tf.config.experimental.set_memory_growth)."""
from .memory import set_memory_growth, set_memory_limit

__all__ = ["set_memory_growth", "set_memory_limit"]
