"""Keras-style utilities: one seed for every random choice, and a fresh start for layer names."""
from .initializers import set_random_seed
from .layers import clear_session

__all__ = ["set_random_seed", "clear_session"]
