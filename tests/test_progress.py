"""The Keras-style progress bar, driven by a fake clock so the text is exact."""
import io

import pytest

from gputrain.progress import ProgressBar


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_final_line_matches_keras():
    out, clock = io.StringIO(), FakeClock()
    bar = ProgressBar(1875, verbose=1, stream=out, clock=clock)
    for step in range(1, 1876):
        clock.t = step * 0.0016
        bar.update(step, {"loss": 0.2954, "accuracy": 0.9142}, data_wait=0.0004)
    assert out.getvalue() == ""  # not a terminal: only the final line, which waits for validation
    bar.finish(1875, {"loss": 0.2954, "accuracy": 0.9142, "val_loss": 0.1, "val_accuracy": 0.97})
    assert out.getvalue() == ("1875/1875 [==============================] - 3s 2ms/step - loss: 0.2954"
                              " - accuracy: 0.9142 - val_loss: 0.1000 - val_accuracy: 0.9700"
                              " - data wait: 25%\n")


def test_redraws_in_place_in_a_terminal():
    out, clock = FakeTerminal(), FakeClock()
    bar = ProgressBar(10, stream=out, clock=clock)
    clock.t = 1.0
    bar.update(3, {"loss": 1.5})
    clock.t = 2.0
    bar.update(10, {"loss": 0.00012})
    bar.finish(10, {"loss": 0.00012})
    text = out.getvalue()
    assert text.startswith("\r 3/10 [========>.....................] - ETA: 2s - loss: 1.5000")
    assert text.endswith("\r10/10 [==============================] - 2s 200ms/step - loss: 1.2000e-04"
                         " - data wait: 0%\n")


def test_verbose_2_prints_one_line_per_epoch_and_0_nothing():
    out, clock = io.StringIO(), FakeClock()
    bar = ProgressBar(100, verbose=2, stream=out, clock=clock)
    for step in range(1, 101):
        clock.t = step * 0.05
        bar.update(step, {"loss": 0.5})
    bar.finish(100, {"loss": 0.5, "val_loss": 0.25})
    assert out.getvalue() == "100/100 - 5s - loss: 0.5000 - val_loss: 0.2500 - 5s/epoch - 50ms/step - data wait: 0%\n"
    quiet = io.StringIO()
    bar = ProgressBar(5, verbose=0, stream=quiet, clock=clock)
    for step in range(1, 6):
        bar.update(step, {"loss": 1.0})
    bar.finish(5, {"loss": 1.0})
    assert quiet.getvalue() == ""


def test_eta_formats():
    out, clock = FakeTerminal(), FakeClock()
    bar = ProgressBar(1000, stream=out, clock=clock)
    clock.t = 10.0
    bar.update(1, {})
    assert "ETA: 2:46:30" in out.getvalue()


class FakeKernelStream(io.StringIO):
    """Stands in for a Jupyter kernel's stdout, which the bar recognises by its module."""


FakeKernelStream.__module__ = "ipykernel.iostream"


def test_in_jupyter_the_bar_is_one_output_updated_in_place(monkeypatch):
    # A stream of '\r' redraws would all be stored in the notebook file; one display output, updated,
    # keeps only the final line.
    shown = []

    class Handle:
        def update(self, obj):
            shown[-1] = repr(obj)

    def display(obj, display_id=False):
        assert display_id is True
        shown.append(repr(obj))
        return Handle()

    pytest.importorskip("IPython")
    monkeypatch.setattr("IPython.display.display", display)
    out, clock = FakeKernelStream(), FakeClock()
    out.write("Epoch 1/1\n")
    bar = ProgressBar(1000, stream=out, clock=clock)
    for step in range(1, 1001):
        clock.t = step * 0.01  # 10 s: due for a redraw every 5 steps
        bar.update(step, {"loss": 1.0 / step})
    bar.finish(1000, {"loss": 0.001})
    assert out.getvalue() == "Epoch 1/1\n"  # nothing but what was printed: the bar is a display output
    assert shown == ["1000/1000 [==============================] - 10s 10ms/step - loss: 1.0000e-03"
                     " - data wait: 0%"]
