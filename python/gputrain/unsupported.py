"""What `import gputrain as keras` answers for a Keras name gputrain does not have yet: an error that says
so and names what gputrain has instead. It is an AttributeError too, so hasattr() stays False."""
from __future__ import annotations


class NotSupportedError(NotImplementedError, AttributeError):
    pass


def missing(module: str, name: str, have: str):
    """A module's __getattr__ for names it does not define."""
    if name.startswith("_"):
        raise AttributeError(f"module 'gputrain.{module}' has no attribute {name!r}")
    raise NotSupportedError(f"gputrain.{module}.{name} is not supported yet; gputrain has {have}")
