"""The "gputrain" metadata of checkpoints: every field checked with an error naming the file and the
field; tensors checked against a model before loading; model names made safe as file names."""
import json
import math
import re

import numpy as np
import pytest

import gputrain as gt
from gputrain import checkpoint_format, layers, safetensors_io
from gputrain.checkpoint_format import FORMAT, LEGACY_FORMAT, is_safe_name, parse_info, safe_name

FILE = "x.safetensors"


def valid_info() -> dict:
    """What Sequential.save writes for a compiled, trained MNIST model."""
    return {"format": FORMAT,
            "model": {"name": "mnist_quickstart", "input_shape": [28, 28],
                      "layers": [{"class_name": "Flatten", "config": {"name": "flatten"}},
                                 {"class_name": "Dense", "config": {"name": "dense", "units": 128,
                                                                    "activation": "relu", "use_bias": True}},
                                 {"class_name": "Conv2D", "config": {"name": "c", "kernel_size": [3, 3],
                                                                     "strides": [1, 1], "padding": "same"}}]},
            "checkpoint_name": "mnist_quickstart",
            "training": {"epoch": 2, "samples": 3200, "batch_size": 32, "seed": 123456789,
                         "history": {"loss": [0.31, 0.2], "accuracy": [0.91, 0.95]},
                         "logs": {"loss": 0.18, "accuracy": 0.96}, "logs_samples": 3200},
            "compile": {"optimizer": {"name": "adam", "config": {"learning_rate": 0.001, "beta_1": 0.9,
                                                                 "beta_2": 0.999, "epsilon": 1e-07},
                                      "iterations": 5625},
                        "loss": {"name": "sparse_categorical_crossentropy", "config": {"from_logits": False}},
                        "metrics": ["accuracy"]}}


DELETE = object()


def with_field(field: str, value):
    """valid_info() with the field at a dotted path (list indices as numbers) set to value, or deleted
    where value is DELETE."""
    info = valid_info()
    *parents, last = [int(p) if p.isdigit() else p for p in field.split(".")]
    target = info
    for part in parents:
        target = target[part]
    if value is DELETE:
        del target[last]
    else:
        target[last] = value
    return info



def rejects(info, message: str) -> None:
    text = info if isinstance(info, str) else json.dumps(info)
    with pytest.raises(ValueError, match=f"^{re.escape(FILE)}: {message}"):
        parse_info(text, FILE)


def test_valid_info_comes_back_unchanged():
    assert parse_info(json.dumps(valid_info()), FILE) == valid_info()


def test_the_issues_example_message():
    with pytest.raises(ValueError) as error:
        parse_info(json.dumps(with_field("training.samples", 1.5)), FILE)
    assert str(error.value) == "x.safetensors: training.samples must be a non-negative integer, got 1.5"


def test_a_version_1_checkpoint_is_checked_with_its_own_fields():
    # Written before progress was counted in samples: (epoch in progress, steps of it done).
    info = valid_info()
    info["format"] = LEGACY_FORMAT
    info["training"] = {"epoch": 2, "step": 1875, "seed": 123456789, "history": {"loss": [0.31]}}
    assert parse_info(json.dumps(info), FILE) == info
    info["training"]["step"] = 1.5
    with pytest.raises(ValueError) as error:
        parse_info(json.dumps(info), FILE)
    assert str(error.value) == "x.safetensors: training.step must be a non-negative integer, got 1.5"
    del info["training"]["step"]
    with pytest.raises(ValueError, match=r"training\.step is missing"):
        parse_info(json.dumps(info), FILE)


BAD_FIELDS = [
    # training
    ("training.samples", 1.5, r"training\.samples must be a non-negative integer, got 1\.5"),
    ("training.samples", -1, r"training\.samples must be a non-negative integer, got -1"),
    ("training.samples", True, r"training\.samples must be a non-negative integer, got True"),
    ("training.samples", "3", r"training\.samples must be a non-negative integer, got '3'"),
    ("training.samples", None, r"training\.samples must be a non-negative integer, got None"),
    ("training.samples", 2**63, r"training\.samples must be a non-negative integer"),
    ("training.samples", DELETE, r"training\.samples is missing"),
    ("training.batch_size", 0, r"training\.batch_size must be null or a positive integer, got 0"),
    ("training.batch_size", 32.0, r"training\.batch_size must be null or a positive integer"),
    ("training.logs", [], r"training\.logs must be an object"),
    ("training.logs", {"loss": "0.1"}, r"training\.logs\['loss'\] must be a number, got '0\.1'"),
    ("training.logs_samples", -1, r"training\.logs_samples must be a non-negative integer"),
    ("checkpoint_name", 5, r"checkpoint_name must be a string of at most 1024 characters, got 5"),
    ("training.epoch", 2.0, r"training\.epoch must be a non-negative integer, got 2\.0"),
    ("training.epoch", [], r"training\.epoch must be a non-negative integer"),
    ("training.seed", -1, r"training\.seed must be null or an integer in \[0, 2\*\*32\), got -1"),
    ("training.seed", 2**32, r"training\.seed must be null or an integer in \[0, 2\*\*32\)"),
    ("training.seed", 7.0, r"training\.seed must be null or an integer"),
    ("training.seed", False, r"training\.seed must be null or an integer"),
    ("training.history", [], r"training\.history must be an object, got \[\]"),
    ("training.history", {"loss": "0.3"}, r"training\.history\['loss'\] must be a list"),
    ("training.history", {"loss": None}, r"training\.history\['loss'\] must be a list"),
    ("training.history", {"loss": [0.1, "x"]}, r"training\.history\['loss'\]\[1\] must be a number, got 'x'"),
    ("training.history", {"loss": [0.1, True]}, r"training\.history\['loss'\]\[1\] must be a number, got True"),
    ("training.history", {"loss": [[0.1]]}, r"training\.history\['loss'\]\[0\] must be a number"),
    ("training.history", {"loss": [0.1] * 100_001}, r"training\.history\['loss'\] must be a list of 0 to 100000"),
    ("training.history", {f"m{i}": [] for i in range(257)},
     r"training\.history is too large: 257 metrics, at most 256"),
    ("training", [], r"training must be an object, got \[\]"),
    ("training", None, r"training must be an object, got None"),
    # model
    ("model", "mnist", r"model must be an object"),
    ("model.name", 5, r"model\.name must be a string of at most 1024 characters, got 5"),
    ("model.name", "n" * 1025, r"model\.name must be a string of at most 1024"),
    ("model.name", DELETE, r"model\.name is missing"),
    ("model.input_shape", [0, 28], r"model\.input_shape must be null or a list of integers from 1 to"),
    ("model.input_shape", [-28], r"model\.input_shape must be null or a list of integers"),
    ("model.input_shape", [28.0], r"model\.input_shape must be null or a list of integers"),
    ("model.input_shape", [True], r"model\.input_shape must be null or a list of integers"),
    ("model.input_shape", [2**24 + 1], r"model\.input_shape must be null or a list of integers"),
    ("model.input_shape", [65536, 65536], r"model\.input_shape must be a shape of at most 2147483648 values"),
    ("model.input_shape", "28", r"model\.input_shape must be a list of 1 to 8 entries"),
    ("model.input_shape", [], r"model\.input_shape must be a list of 1 to 8 entries"),
    ("model.input_shape", [1] * 9, r"model\.input_shape must be a list of 1 to 8 entries"),
    ("model.input_shape", DELETE, r"model\.input_shape is missing"),
    ("model.layers", [], r"model\.layers must be a list of 1 to 10000 entries"),
    ("model.layers", {}, r"model\.layers must be a list"),
    ("model.layers", [{"class_name": "Dense", "config": {}}] * 10_001, r"model\.layers must be a list of 1 to"),
    ("model.layers.1", 5, r"model\.layers\[1\] must be an object, got 5"),
    ("model.layers.1.class_name", 3, r"model\.layers\[1\]\.class_name must be a string"),
    ("model.layers.1.class_name", DELETE, r"model\.layers\[1\]\.class_name is missing"),
    ("model.layers.1.config", [], r"model\.layers\[1\]\.config must be an object, got \[\]"),
    ("model.layers.1.config", DELETE, r"model\.layers\[1\]\.config is missing"),
    ("model.layers.1.config.units", math.nan, r"model\.layers\[1\]\.config\.units must be a finite number"),
    ("model.layers.1.config.units", -math.inf, r"model\.layers\[1\]\.config\.units must be a finite number"),
    ("model.layers.1.config.units", 2**64, r"model\.layers\[1\]\.config\.units must be an integer that fits 64 bits"),
    ("model.layers.1.config.name", "n" * 1025, r"model\.layers\[1\]\.config\.name must be a string"),
    ("model.layers.2.config.kernel_size", [3] * 257, r"model\.layers\[2\]\.config\.kernel_size must be a list"),
    ("model.layers.2.config.kernel_size", [[[[[3]]]]], r"model\.layers\[2\]\.config\.kernel_size\[0\]\[0\]\[0\]\[0\] "
                                                       r"must be a number, flag or string"),
    ("model.layers.2.config", {f"k{i}": 1 for i in range(257)},
     r"model\.layers\[2\]\.config is too large: 257 entries"),
    # compile
    ("compile", "adam", r"compile must be an object"),
    ("compile.optimizer.iterations", -3, r"compile\.optimizer\.iterations must be a non-negative integer, got -3"),
    ("compile.optimizer.iterations", 1.5, r"compile\.optimizer\.iterations must be a non-negative integer"),
    ("compile.optimizer.iterations", DELETE, r"compile\.optimizer\.iterations is missing"),
    ("compile.optimizer.name", None, r"compile\.optimizer\.name must be a string"),
    ("compile.optimizer.config", None, r"compile\.optimizer\.config must be an object"),
    ("compile.optimizer.config.learning_rate", math.nan, r"compile\.optimizer\.config\.learning_rate must be a finite"),
    ("compile.optimizer.config.learning_rate", [0.1], r"compile\.optimizer\.config\.learning_rate must be a number, "
                                                     r"flag or string"),
    ("compile.loss.name", 1, r"compile\.loss\.name must be a string"),
    ("compile.loss.config", DELETE, r"compile\.loss\.config is missing"),
    ("compile.loss.config.from_logits", {"a": 1}, r"compile\.loss\.config\.from_logits must be a number, flag"),
    ("compile.metrics", "accuracy", r"compile\.metrics must be a list of 0 to 16 entries, got 'accuracy'"),
    ("compile.metrics", ["accuracy"] * 17, r"compile\.metrics must be a list of 0 to 16"),
    ("compile.metrics", [1], r"compile\.metrics\[0\] must be a string"),
    ("compile.metrics", DELETE, r"compile\.metrics is missing"),
    # fields of a later version are allowed, but bounded like settings
    ("future", {"a": [math.inf]}, r"future\.a\[0\] must be a finite number"),
    ("future", "f" * 1025, r"future must be a string of at most 1024"),
    ("future", [[0.5] * 200] * 200, r"future is too large: 200400 characters of JSON, at most 65536"),
    ("model.layers", [{"class_name": "Dense", "config": {"units": [[1] * 200] * 200}}] * 20,
     r"model\.layers is too large: \d+ characters of JSON, at most 1048576"),
]


@pytest.mark.parametrize("field, value, message", BAD_FIELDS,
                         ids=[f"{f}={str(v)[:20]}" for f, v, _ in BAD_FIELDS])
def test_bad_field_names_the_file_and_the_field(field, value, message):
    rejects(with_field(field, value), message)


@pytest.mark.parametrize("info, message", [
    ({"model": valid_info()["model"]}, r"not a gputrain model file \(format None, expected 'gputrain\.model/2'\)"),
    ({"format": "gputrain.model/3"}, r"not a gputrain model file \(format 'gputrain\.model/3'.*newer gputrain"),
    ({"format": 1}, r"not a gputrain model file \(format 1"),
    ([FORMAT], r"not a gputrain model file \(its 'gputrain' metadata is not an object\)"),
    ("3", r"not a gputrain model file"),
    ("null", r"not a gputrain model file"),
])
def test_not_our_format(info, message):
    rejects(info, message)


def test_text_that_is_not_json():
    rejects("{", r"the 'gputrain' metadata: ")
    rejects('{"format": "gputrain.model/1", "format": "gputrain.model/1"}', r"the 'gputrain' metadata: .*appears twice")
    rejects("[" * 100_000 + "]" * 100_000, r"the 'gputrain' metadata: nested too deeply")
    rejects('{"format": "gputrain.model/1", "training": ' + "[" * 100_000 + "]" * 100_000 + "}", "the 'gputrain' "
            "metadata: nested too deeply")
    rejects(" " * (checkpoint_format.MAX_INFO_CHARS + 1), r"the 'gputrain' metadata must be a JSON text of at most")
    with pytest.raises(ValueError, match=f"^{FILE}: the 'gputrain' metadata must be a JSON text"):
        parse_info(b'{"format": "gputrain.model/1"}', FILE)


def test_what_save_may_write_is_accepted():
    info = valid_info()
    info["training"]["seed"] = None  # before the first fit
    info["training"]["history"] = {"loss": [math.nan, math.inf, 0.5, 1], "val_loss": []}  # a diverged run
    info["model"]["input_shape"] = None  # never built
    info["future"] = {"a": [1, 2.5, "x", None, True]}  # a field of a later version
    parsed = parse_info(json.dumps(info), FILE)  # json.dumps writes NaN and Infinity, as save does
    assert math.isnan(parsed["training"]["history"]["loss"][0]) and parsed["training"]["history"]["loss"][1] == math.inf
    for section in ("model", "training", "compile"):  # save_weights and include_optimizer=False omit some
        info = valid_info()
        del info[section]
        assert parse_info(json.dumps(info), FILE) == info
    assert parse_info(json.dumps({"format": FORMAT}), FILE) == {"format": FORMAT}


# ---- with real checkpoints ----

def small_trained_model():
    gt.utils.set_random_seed(7)
    model = gt.Sequential([layers.Input((4,)), layers.Dense(5, activation="relu"), layers.Dense(3)],
                          name="small")
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"], device="cpu")
    rng = np.random.default_rng(3)
    model.fit(rng.standard_normal((12, 4)).astype(np.float32), rng.integers(0, 3, 12), batch_size=4,
              epochs=2, verbose=0)
    return model


def test_read_info_of_a_saved_model(tmp_path):
    model = small_trained_model()
    model.save(tmp_path / "m.safetensors")
    info = checkpoint_format.read_info(tmp_path / "m.safetensors")
    assert info["model"] == model.get_config()
    assert info["training"]["epoch"] == 2 and info["training"]["samples"] == 0  # 2 epochs completed
    assert info["compile"]["optimizer"]["iterations"] == model.optimizer.iterations == 6
    model.save_weights(tmp_path / "w.safetensors")
    assert checkpoint_format.read_info(tmp_path / "w.safetensors") == {"format": FORMAT}


def test_read_info_of_a_crafted_checkpoint(tmp_path):
    # Checksums cannot help against a file written with a bad value: the fields are checked.
    model = small_trained_model()
    model.save(tmp_path / "m.safetensors")
    tensors, metadata = safetensors_io.load_file(tmp_path / "m.safetensors")
    info = json.loads(metadata["gputrain"])
    info["training"]["samples"] = 1.5
    safetensors_io.save_file(tmp_path / "m.safetensors", tensors, {"gputrain": json.dumps(info)})
    path = tmp_path / "m.safetensors"
    with pytest.raises(ValueError, match=f"^{re.escape(str(path))}: training.samples must be a non-negative"):
        checkpoint_format.read_info(path)
    safetensors_io.save_file(path, tensors, {"other": "x"})
    with pytest.raises(ValueError, match=f"^{re.escape(str(path))}: not a gputrain model file"):
        checkpoint_format.read_info(path)


def test_check_tensors_against_a_model(tmp_path):
    model = small_trained_model()
    path = tmp_path / "m.safetensors"
    model.save(path)
    _, entries = safetensors_io.load_header(path)
    expected = {f"layers/{i}/{name}": t.shape for i, layer in enumerate(model.layers)
                for name, t in layer.params.items()}
    checkpoint_format.check_tensors(path, entries, expected)  # the model's own file passes
    tensors, metadata = safetensors_io.load_file(path)
    tensors["layers/0/kernel"] = tensors["layers/0/kernel"].astype(np.int8)
    safetensors_io.save_file(path, tensors, metadata)
    _, entries = safetensors_io.load_header(path)
    with pytest.raises(ValueError, match=f"^{re.escape(str(path))}: layers/0/kernel holds int8 values, the model "
                                         f"expects float32"):
        checkpoint_format.check_tensors(path, entries, expected)
    with pytest.raises(ValueError, match=re.escape(f"{path}: layers/1/bias has shape (3,), the model expects (4,)")):
        checkpoint_format.check_tensors(path, entries, {"layers/1/bias": (4,)})
    with pytest.raises(ValueError, match=f"{re.escape(str(path))}: has no tensor 'layers/2/kernel'"):
        checkpoint_format.check_tensors(path, entries, {"layers/2/kernel": (3, 3)})


def test_check_optimizer_slots(tmp_path):
    model = small_trained_model()
    path = tmp_path / "m.safetensors"
    model.save(path)
    _, entries = safetensors_io.load_header(path)
    params = {f"layers/{i}/{name}": t.shape for i, layer in enumerate(model.layers)
              for name, t in layer.params.items()}
    assert any(name.startswith("optimizer/") for name in entries)
    checkpoint_format.check_optimizer_slots(path, entries, params, ("m", "v"))
    for name, dtype, shape, message in [
            ("optimizer/layers/9/kernel/m", np.float32, (4, 5), "belongs to no parameter and slot"),
            ("optimizer/layers/0/kernel/momentum", np.float32, (4, 5), "belongs to no parameter and slot"),
            ("optimizer/stray", np.float32, (4, 5), "belongs to no parameter and slot"),
            ("optimizer/layers/0/kernel/m", np.float32, (5, 4), r"has shape \(5, 4\), the model expects \(4, 5\)"),
            ("optimizer/layers/0/kernel/m", np.float64, (4, 5), "holds float64 values, the model expects float32")]:
        crafted = dict(entries, **{name: (np.dtype(dtype), shape)})
        with pytest.raises(ValueError, match=f"^{re.escape(str(path))}: .*{message}"):
            checkpoint_format.check_optimizer_slots(path, crafted, params, ("m", "v"))


# ---- model names as file names ----

@pytest.mark.parametrize("name", ["mnist_quickstart", "sequential_1", "model-v2.1", "A", "resnet18.places365"])
def test_ordinary_names_are_kept(name):
    assert safe_name(name) == name and is_safe_name(name)


NASTY = ["../../outside/x", "/etc/passwd", "C:\\Windows\\x", "..", ".", "", ".hidden", "-rf", "a\x00b",
         "tab\tname\n", "name.", "CON", "nul.txt", "x" * 300, "ñandú", "a/b", "a_b/", "..\\..\\x", "\udcff"]


@pytest.mark.parametrize("name", NASTY)
def test_nasty_names_become_one_safe_component(tmp_path, name):
    safe = safe_name(name)
    assert re.fullmatch(r"[A-Za-z0-9_.-]{1,100}", safe) and ".." not in safe
    assert not safe.startswith((".", "-")) and not safe.endswith(".")
    assert safe_name(safe) == safe == safe_name(name)  # deterministic and stable
    assert is_safe_name(safe) and not is_safe_name(name)
    checkpoint = (tmp_path / f"{safe}-0123456789.safetensors").resolve()
    assert checkpoint.parent == tmp_path.resolve()


def test_different_names_stay_different():
    names = ["a/b", "a_b", "a\\b", "a:b", "a..b", "a__b", "x" * 300, "x" * 301, ".a", "_a"]
    assert len({safe_name(n) for n in names}) == len(names)


def test_random_names_are_safe(rng):
    alphabet = list("ab./\\_-:\x00\n ~$*?") + ["é", "..", "\u202e"]
    for _ in range(500):
        name = "".join(rng.choice(alphabet, size=int(rng.integers(0, 40))))
        safe = safe_name(name)
        assert re.fullmatch(r"[A-Za-z0-9_.-]{1,100}", safe) and ".." not in safe, (name, safe)
        assert not safe.startswith((".", "-")) and safe == safe_name(safe), (name, safe)


def test_safe_name_wants_a_string():
    with pytest.raises(TypeError, match="name: expected a string, got int"):
        safe_name(3)
    assert not is_safe_name(None)
