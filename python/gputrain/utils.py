"""Keras-style utilities: one seed for every random choice, a fresh start for layer names, Keras's array
helpers and its progress bar for your own loops."""
from .initializers import set_random_seed
from .layers import clear_session
from .numerical import normalize, to_categorical
from .progress import Progbar

__all__ = ["set_random_seed", "clear_session", "to_categorical", "normalize", "Progbar"]
