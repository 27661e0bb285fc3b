"""keras.mixed_precision's names. gputrain trains in float32 so far: the "float32" policy is accepted, and
asking for float16 or bfloat16 compute says so instead of training in a precision it was not asked for."""
from __future__ import annotations


class Policy:
    def __init__(self, name: str):
        if name != "float32":
            raise NotImplementedError(f"Policy: {name!r} is not supported yet; gputrain computes in float32 (the "
                                      f"'float32' policy)")
        self.name = name
        self.compute_dtype = self.variable_dtype = "float32"

    def __repr__(self) -> str:
        return f'<DTypePolicy "{self.name}">'


_policy = Policy("float32")


def set_global_policy(policy) -> None:
    global _policy
    _policy = policy if isinstance(policy, Policy) else Policy(policy)


def global_policy() -> Policy:
    return _policy
