"""Functional models of several inputs and outputs: compile's loss, loss_weights and metrics per output
(one value, a list, or a dict by output name), x and y as lists or dicts, Keras 3's log names, the
weighted loss's gradients (an output other layers also read included), predict and model(x) returning
one array per output, saving and loading, and the errors a mismatch gets."""
import numpy as np
import pytest

import gputrain as gt
from gputrain import layers

DEVICE = "cpu"


def _two_in_two_out(seed=5):
    """Images and a vector in; a class (softmax) and a flag (sigmoid) out. The class output is also read
    by the layer before the flag, so its gradient is the sum of its loss's and that layer's."""
    gt.utils.set_random_seed(seed)
    image = gt.Input((6, 6, 1), name="image")
    meta = gt.Input((3,), name="meta")
    h = layers.Conv2D(4, 3, activation="relu", name="conv")(image)
    h = layers.GlobalAveragePooling2D(name="pool")(h)
    h = layers.Concatenate(name="join")([h, layers.Dense(4, activation="relu", name="meta_dense")(meta)])
    kind = layers.Dense(3, activation="softmax", name="kind")(h)
    flag = layers.Dense(1, activation="sigmoid", name="flag")(layers.Concatenate(name="join2")([h, kind]))
    return gt.Model([image, meta], [kind, flag], name="two_heads")


def _data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    image = rng.standard_normal((n, 6, 6, 1)).astype(np.float32)
    meta = rng.standard_normal((n, 3)).astype(np.float32)
    kind = (image.mean(axis=(1, 2, 3)) > 0).astype(np.int64) + (meta[:, 0] > 0.5)
    flag = (meta[:, 1] > 0).astype(np.float32)
    return {"image": image, "meta": meta}, {"kind": kind, "flag": flag}


def test_fit_names_its_logs_as_keras_3_and_learns_both_outputs():
    model = _two_in_two_out()
    model.compile(gt.optimizers.Adam(0.02), loss={"kind": "sparse_categorical_crossentropy",
                                                  "flag": "binary_crossentropy"},
                  loss_weights={"kind": 1.0, "flag": 0.5}, metrics={"kind": "accuracy", "flag": ["accuracy"]},
                  device=DEVICE)
    x, y = _data(256)
    history = model.fit(x, y, batch_size=32, epochs=8, validation_split=0.25, verbose=0).history
    names = ["loss", "kind_loss", "flag_loss", "kind_accuracy", "flag_accuracy"]
    assert list(history) == names + [f"val_{n}" for n in names]
    for name in names:
        assert len(history[name]) == 8
    # the total is the weighted sum of the parts, epoch by epoch (running means of the same steps)
    np.testing.assert_allclose(history["loss"], np.add(history["kind_loss"], 0.5 * np.array(history["flag_loss"])),
                               rtol=1e-5)
    assert history["kind_loss"][-1] < 0.8 * history["kind_loss"][0]
    assert history["flag_loss"][-1] < 0.7 * history["flag_loss"][0]
    assert history["flag_accuracy"][-1] > 0.8


def test_evaluate_predict_and_call_give_one_value_per_output():
    model = _two_in_two_out()
    model.compile("sgd", ["sparse_categorical_crossentropy", "binary_crossentropy"], loss_weights=[2.0, 1.0],
                  metrics=[["accuracy"], []], device=DEVICE)
    x, y = _data(20)
    lists = ([x["image"], x["meta"]], [y["kind"], y["flag"]])
    loss, kind_loss, flag_loss, kind_accuracy = model.evaluate(*lists, batch_size=8, verbose=0)
    assert loss == pytest.approx(2.0 * kind_loss + flag_loss, rel=1e-5)
    kind, flag = model.predict(x, batch_size=7)
    assert kind.shape == (20, 3) and flag.shape == (20, 1)
    # the same numbers from the outputs themselves
    expected_kind = -np.mean(np.log(kind[np.arange(20), y["kind"]]))
    expected_flag = -np.mean(y["flag"] * np.log(flag[:, 0]) + (1 - y["flag"]) * np.log(1 - flag[:, 0]))
    assert kind_loss == pytest.approx(expected_kind, rel=1e-4)
    assert flag_loss == pytest.approx(expected_flag, rel=1e-4)
    assert kind_accuracy == pytest.approx(np.mean(kind.argmax(axis=1) == y["kind"]))
    called = model(lists[0])
    assert isinstance(called, list) and len(called) == 2
    np.testing.assert_allclose(called[0].numpy(), kind, rtol=1e-6)
    np.testing.assert_allclose(called[1].numpy(), flag, rtol=1e-6)


def _step_gradients(model, loss, loss_weights, x, y, device):
    """The parameter gradients of one step (learning rate 0) for this compile."""
    model.compile("sgd", loss, loss_weights=loss_weights, device=device)
    plan = model._plan("train", len(x[0]))
    labels = model._labels()
    trained = [t for t in model.targets if t.loss is not None]
    ys = [gt.tensor(convert(y[t.index]), device=device) for convert, t in zip(labels, trained)]
    plan.step([gt.tensor(a, device=device) for a in x], ys, 1, 0.0)
    return [g.numpy().astype(np.float64) for g in plan.gradients()]


def test_the_weighted_loss_has_the_weighted_sum_of_each_loss_gradients(device):
    """Linearity of the gradient: with weights (0.7, 1.9) the step's gradients are 0.7·(those of the
    first loss alone) + 1.9·(the second's). The first output is also read by a layer, so a gradient
    summed wrongly, a weight applied twice or not at all, or a loss writing over that layer's gradient
    breaks the identity."""
    model = _two_in_two_out(seed=11)
    x, y = _data(9, seed=4)
    x, y = [x["image"], x["meta"]], [y["kind"], y["flag"]]
    both = _step_gradients(model, ["sparse_categorical_crossentropy", "binary_crossentropy"], [0.7, 1.9], x, y,
                           device)
    first = _step_gradients(model, ["sparse_categorical_crossentropy", None], None, x, y, device)
    second = _step_gradients(model, [None, "binary_crossentropy"], None, x, y, device)
    assert len(both) == len(first) == len(second) == 8
    for got, a, b in zip(both, first, second):
        expected = 0.7 * a + 1.9 * b
        assert np.linalg.norm(got - expected) <= 1e-5 * max(np.linalg.norm(expected), 1e-6)
    # the first loss alone reaches the flag head's weights through nothing: their gradient is zero
    assert np.all(first[-2] == 0) and np.all(first[-1] == 0)


def test_a_compiled_model_of_several_outputs_saves_and_loads(tmp_path):
    model = _two_in_two_out()
    model.compile("adam", {"kind": "sparse_categorical_crossentropy", "flag": "binary_crossentropy"},
                  loss_weights=[1.0, 0.25], metrics=[["accuracy"], ["accuracy"]], device=DEVICE)
    x, y = _data(32)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    model.save(tmp_path / "m.safetensors")
    loaded = gt.models.load_model(tmp_path / "m.safetensors", device=DEVICE)
    assert [t.name for t in loaded.targets] == ["kind", "flag"]
    assert loaded.loss_weights == [1.0, 0.25] and loaded.metrics == [["accuracy"], ["accuracy"]]
    for a, b in zip(model.predict(x), loaded.predict(x)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), loaded.evaluate(x, y, verbose=0), rtol=1e-6)


def test_mismatched_inputs_targets_and_compile_arguments_are_named():
    model = _two_in_two_out()
    with pytest.raises(ValueError, match="loss: 'kinds' is not an output of the model; its outputs are kind, flag"):
        model.compile("sgd", {"kinds": "binary_crossentropy"})
    with pytest.raises(ValueError, match="loss: expected one entry per output"):
        model.compile("sgd", ["binary_crossentropy"])
    with pytest.raises(ValueError, match="metrics: for a model of 2 outputs give one entry per output"):
        model.compile("sgd", "binary_crossentropy", metrics=["accuracy"])
    with pytest.raises(ValueError, match="loss: no output has a loss"):
        model.compile("sgd", [None, None])
    with pytest.raises(ValueError, match="loss_weights: expected a finite number for output 'flag'"):
        model.compile("sgd", "binary_crossentropy", loss_weights=[1.0, float("nan")])
    model.compile("sgd", {"kind": "sparse_categorical_crossentropy", "flag": "binary_crossentropy"}, device=DEVICE)
    x, y = _data(8)
    with pytest.raises(ValueError, match="y: no array for output 'flag'"):
        model.fit(x, {"kind": y["kind"]}, verbose=0)
    with pytest.raises(ValueError, match="x: the model has no input named 'picture'"):
        model.fit({"picture": x["image"], "meta": x["meta"]}, y, verbose=0)
    with pytest.raises(ValueError, match="x: expected 2 arrays, one per input"):
        model.predict([x["image"]])
    with pytest.raises(ValueError, match=r"x\['meta'\]: the model expects samples of shape \(3,\)"):
        model.predict({"image": x["image"], "meta": x["meta"][:, :2]})
    with pytest.raises(ValueError, match="every input needs the same number of samples"):
        model.predict({"image": x["image"], "meta": x["meta"][:5]})
    with pytest.raises(ValueError, match=r"x and y\['kind'\] must have the same number of samples"):
        model.evaluate(x, {"kind": y["kind"][:3], "flag": y["flag"]}, verbose=0)
    bad = dict(x, meta=x["meta"].copy())
    bad["meta"][3, 1] = np.nan
    with pytest.raises(ValueError, match=r"x\['meta'\]: sample 3 holds nan"):
        model.fit(bad, y, verbose=0)


def test_an_output_without_a_loss_is_predicted_but_not_trained():
    model = _two_in_two_out()
    model.compile("sgd", {"flag": "binary_crossentropy"}, metrics={"flag": "accuracy"}, device=DEVICE)
    x, y = _data(16)
    history = model.fit(x, {"flag": y["flag"]}, batch_size=8, epochs=1, verbose=0).history
    assert list(history) == ["loss", "flag_accuracy"]  # one loss: no per-output loss, as Keras
    kind, flag = model.predict(x)
    assert kind.shape == (16, 3) and flag.shape == (16, 1)
