"""Keras's progress bar: `Epoch 1/5`, then `1875/1875 [======] - 3s 2ms/step - loss: 0.2954 -
accuracy: 0.9142`, redrawn in place in a terminal and in Jupyter (one output, updated); with verbose=2
one line per epoch; with verbose=0 nothing. It also reports the share of step time spent waiting for input data, which is
what limits a fast GPU fed by a slow input pipeline."""
from __future__ import annotations

import sys
import time

from . import checks


def _format_value(value: float) -> str:
    return f"{value:.4f}" if abs(value) > 1e-3 or value == 0 else f"{value:.4e}"


def _format_eta(seconds: float) -> str:
    seconds = int(seconds)
    if seconds > 3600:
        return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    if seconds > 60:
        return f"{seconds // 60}:{seconds % 60:02d}"
    return f"{seconds}s"


def _format_per_step(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"


def _jupyter_display(stream):
    """IPython's display() where `stream` is a Jupyter kernel's output, else None. In a notebook the bar
    is one display output updated in place: redraws written to the stream with '\r' would all be kept
    in the saved notebook (a hundred lines an epoch), and only its final state is worth keeping."""
    if not type(stream).__module__.startswith("ipykernel"):
        return None
    try:
        from IPython.display import display
    except ImportError:
        return None
    return display


class _Line:
    """One line of text as a display output (text/plain, shown as written)."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(self.text)


def _dynamic(stream) -> bool:
    # Redraw in place where '\r' works: a terminal.
    return hasattr(stream, "isatty") and stream.isatty()


class ProgressBar:
    """One epoch's bar. `update(step, values, data_wait)` after each step, where values are running means
    (loss, metrics) and data_wait the seconds that step waited for its batch; `finish(step, values)` at
    the end draws the final line, which as in Keras also carries the validation values."""

    width = 30

    def __init__(self, target: int, verbose: int = 1, stream=None, clock=time.perf_counter):
        self.target = target
        self.verbose = verbose
        self.stream = stream or sys.stdout
        self.clock = clock
        self.start = clock()
        self.data_wait = 0.0
        self.display = _jupyter_display(self.stream)
        self._handle = None  # the bar's display output in a notebook, once drawn
        self.dynamic = self.display is not None or _dynamic(self.stream)
        self._last_draw = 0.0
        self._last_len = 0

    def _bar(self, current: int) -> str:
        digits = len(str(self.target))
        filled = int(self.width * current / self.target) if self.target else self.width
        bar = f"{current:{digits}d}/{self.target} ["
        if filled > 0:
            bar += "=" * (filled - 1) + (">" if current < self.target else "=")
        return bar + "." * (self.width - filled) + "]"

    def _values(self, values: dict) -> str:
        return "".join(f" - {name}: {_format_value(v)}" for name, v in values.items())

    def _data_share(self, elapsed: float) -> str:
        return f" - data wait: {100 * self.data_wait / elapsed:.0f}%" if elapsed > 0 else ""

    def due(self, current: int) -> bool:
        """Whether update(current, ...) will redraw, so a caller reads values that cost a device
        synchronisation only then. Redrawing every step would cost more than a fast step: at most 20
        times a second, and only the final state where the output cannot be redrawn in place."""
        if self.verbose != 1:
            return False
        if current >= self.target:
            return True
        return self.dynamic and self.clock() - self._last_draw >= 0.05

    def update(self, current: int, values: dict, data_wait: float = 0.0) -> None:
        self.data_wait += data_wait
        if current >= self.target or not self.due(current):
            return  # the final line is finish()'s
        now = self.clock()
        self._last_draw = now
        elapsed = now - self.start
        eta = elapsed / current * (self.target - current) if current else 0.0
        self._write(f"{self._bar(current)} - ETA: {_format_eta(eta)}{self._values(values)}"
                    f"{self._data_share(elapsed)}", final=False)

    def finish(self, current: int, values: dict) -> None:
        """The epoch's last line: the full bar with time per step (verbose=1), or one line for the
        whole epoch (verbose=2), as Keras prints them."""
        elapsed = self.clock() - self.start
        per_step = _format_per_step(elapsed / max(current, 1))
        if self.verbose == 1:
            self._write(f"{self._bar(current)} - {elapsed:.0f}s {per_step}{self._values(values)}"
                        f"{self._data_share(elapsed)}", final=True)
        elif self.verbose == 2:
            self.stream.write(f"{current}/{self.target} - {elapsed:.0f}s{self._values(values)}"
                              f" - {elapsed:.0f}s/epoch - {per_step}{self._data_share(elapsed)}\n")
            self.stream.flush()

    def _write(self, line: str, final: bool) -> None:
        if self.display is not None:
            if self._handle is None:
                self.stream.flush()  # what was printed before the bar ("Epoch 1/5") shows above it
                self._handle = self.display(_Line(line), display_id=True)
            else:
                self._handle.update(_Line(line))
            return
        pad = " " * max(self._last_len - len(line), 0)
        self._last_len = len(line)
        if self.dynamic:
            self.stream.write("\r" + line + pad + ("\n" if final else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


class Progbar:
    """keras.utils.Progbar, for your own loops: update(current, values) with values as (name, value) pairs,
    shown as their means over the steps so far (stateful_metrics as last given), add(n, values); drawn by
    ProgressBar, as fit's bar (which sets its own redraw rate: interval and unit_name are taken, as Keras's
    arguments, and not used)."""

    def __init__(self, target: int, width: int = 20, verbose: int = 1, interval: float = 0.05,
                 stateful_metrics=None, unit_name: str = "step"):
        self.target = checks.count(target, "target", 1)
        self._bar = ProgressBar(self.target, verbose=verbose)
        self._bar.width = checks.count(width, "width", 1)
        self._stateful = set(stateful_metrics or ())
        self._sums: dict = {}
        self._seen_so_far = 0

    def update(self, current: int, values=None, finalize=None) -> None:
        steps = current - self._seen_so_far
        for name, value in values or []:
            value = float(value)
            if name in self._stateful:
                self._sums[name] = [value, 1]
            else:
                total, count = self._sums.get(name, [0.0, 0])
                self._sums[name] = [total + value * max(steps, 1), count + max(steps, 1)]
        self._seen_so_far = current
        means = {name: total / count for name, (total, count) in self._sums.items()}
        if finalize if finalize is not None else current >= self.target:
            self._bar.finish(current, means)
        else:
            self._bar.update(current, means)

    def add(self, n: int, values=None) -> None:
        self.update(self._seen_so_far + n, values)
