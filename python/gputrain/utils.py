"""Keras-style utilities: one seed for every random choice, a fresh start for layer names, and Keras's
array helpers."""
from .initializers import set_random_seed
from .layers import clear_session
from .numerical import normalize, to_categorical

__all__ = ["set_random_seed", "clear_session", "to_categorical", "normalize"]
