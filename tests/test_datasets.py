"""Dataset loading in Keras's format from the real files, from .npz, and through a verified download
(served from a local file:// mirror: tests never touch the network)."""
import gzip
import hashlib
import os

import numpy as np
import pytest

import gputrain as gt
from gputrain.datasets import files, mnist_like
from gputrain.datasets.idx import read_idx
from datafiles import shared_data


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_real_files_in_keras_format(name):
    folder = shared_data(name.replace("_", "-"))
    (x_train, y_train), (x_test, y_test) = getattr(gt.datasets, name).load_data(path=folder)
    assert x_train.shape == (60000, 28, 28) and x_train.dtype == np.uint8
    assert y_train.shape == (60000,) and y_train.dtype == np.uint8
    assert x_test.shape == (10000, 28, 28) and y_test.shape == (10000,)
    assert set(np.unique(y_train)) == set(range(10))
    assert np.bincount(y_test).min() > 800  # every class well represented
    assert x_train.max() == 255 and x_train.min() == 0
    if name == "mnist":
        assert y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]  # the famous first labels
        assert y_test[:5].tolist() == [7, 2, 1, 0, 4]


def test_npz_path(tmp_path, rng):
    arrays = {"x_train": rng.integers(0, 256, (5, 28, 28), dtype=np.uint8), "y_train": np.arange(5, dtype=np.uint8),
              "x_test": rng.integers(0, 256, (2, 28, 28), dtype=np.uint8), "y_test": np.arange(2, dtype=np.uint8)}
    np.savez(tmp_path / "mnist.npz", **arrays)
    (x, y), (xt, yt) = gt.datasets.mnist.load_data(path=tmp_path / "mnist.npz")
    np.testing.assert_array_equal(x, arrays["x_train"])
    np.testing.assert_array_equal(yt, arrays["y_test"])


def test_missing_and_wrong_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="lacks train-images-idx3-ubyte.gz"):
        gt.datasets.mnist.load_data(path=tmp_path)
    for f in mnist_like.FILES:
        (tmp_path / f).write_bytes(b"not mnist")
    with pytest.raises(ValueError, match="checksum does not match"):
        gt.datasets.mnist.load_data(path=tmp_path)


def write_idx(path, array):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_idx_reader_checks_sizes(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "ok.gz", images)
    np.testing.assert_array_equal(read_idx(tmp_path / "ok.gz"), images)
    with gzip.open(tmp_path / "short.gz", "wb") as f:
        f.write(bytes([0, 0, 8, 1]) + (10).to_bytes(4, "big") + bytes(5))
    with pytest.raises(ValueError, match=r"says shape \(10,\)"):
        read_idx(tmp_path / "short.gz")
    (tmp_path / "junk").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="bad magic"):
        read_idx(tmp_path / "junk")


@pytest.fixture
def mirror(tmp_path, rng):
    """A file:// mirror of four small synthetic IDX files and their sha256 sums."""
    folder = tmp_path / "mirror"
    folder.mkdir()
    data = {"train-images-idx3-ubyte.gz": rng.integers(0, 256, (6, 28, 28)),
            "train-labels-idx1-ubyte.gz": rng.integers(0, 10, 6),
            "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (3, 28, 28)),
            "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, 3)}
    sums = {}
    for name, array in data.items():
        write_idx(folder / name, array)
        sums[name] = hashlib.sha256((folder / name).read_bytes()).hexdigest()
    return folder, sums, data


def test_download_verifies_caches_and_renames(tmp_path, mirror, monkeypatch):
    folder, sums, data = mirror
    monkeypatch.setenv("GPUTRAIN_DATA_DIR", str(tmp_path / "cache"))
    urls = ["file:///nonexistent/mirror", folder.as_uri()]  # the first mirror fails, the second serves
    (x, y), (xt, yt) = mnist_like.load("toy", sums, urls, None)
    np.testing.assert_array_equal(x, data["train-images-idx3-ubyte.gz"])
    np.testing.assert_array_equal(yt, data["t10k-labels-idx1-ubyte.gz"])
    cached = tmp_path / "cache" / "toy"
    assert sorted(os.listdir(cached)) == sorted(sums)  # no partial files left
    # A second load uses the cache: the mirror can be gone.
    (x2, _), _ = mnist_like.load("toy", sums, ["file:///nonexistent"], None)
    np.testing.assert_array_equal(x2, x)


def test_download_with_bad_checksum_leaves_nothing(tmp_path, mirror, monkeypatch):
    folder, sums, _ = mirror
    monkeypatch.setenv("GPUTRAIN_DATA_DIR", str(tmp_path / "cache"))
    bad = dict(sums, **{"train-images-idx3-ubyte.gz": "0" * 64})
    with pytest.raises(OSError, match="checksum"):
        mnist_like.load("toy", bad, [folder.as_uri()], None)
    assert not (tmp_path / "cache" / "toy" / "train-images-idx3-ubyte.gz").exists()
    assert not [p for p in (tmp_path / "cache" / "toy").iterdir() if p.name.endswith(".part")]


def test_corrupted_cache_is_downloaded_again(tmp_path, mirror, monkeypatch):
    folder, sums, data = mirror
    monkeypatch.setenv("GPUTRAIN_DATA_DIR", str(tmp_path / "cache"))
    mnist_like.load("toy", sums, [folder.as_uri()], None)
    (tmp_path / "cache" / "toy" / "train-labels-idx1-ubyte.gz").write_bytes(b"torn")
    (_, y), _ = mnist_like.load("toy", sums, [folder.as_uri()], None)
    np.testing.assert_array_equal(y, data["train-labels-idx1-ubyte.gz"])
    assert files.sha256(tmp_path / "cache" / "toy" / "train-labels-idx1-ubyte.gz") == sums["train-labels-idx1-ubyte.gz"]


@pytest.mark.parametrize("content, says", [
    (b"this is not an archive" * 10, "it is neither an .npz nor an .npy file"),
    (b"PK\x03\x04 torn zip", "BadZipFile"),
])
def test_a_garbage_npz_is_named_without_suggesting_pickle(tmp_path, content, says):
    path = tmp_path / "mnist.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError) as caught:
        gt.datasets.mnist.load_data(path=path)
    assert str(caught.value).startswith(f"{path}: not a readable .npz archive") and says in str(caught.value)
    assert "pickle" not in str(caught.value)


def test_an_npz_of_python_objects_or_one_array_is_refused(tmp_path):
    objects = {"x_train": np.array([{"a": 1}] * 5, dtype=object), "y_train": np.arange(5),
               "x_test": np.zeros((2, 28, 28), np.uint8), "y_test": np.arange(2)}
    np.savez(tmp_path / "objects.npz", **objects)
    with pytest.raises(ValueError, match="its arrays hold Python objects") as caught:
        gt.datasets.mnist.load_data(path=tmp_path / "objects.npz")
    assert "allow_pickle" not in str(caught.value)
    with open(tmp_path / "one.npz", "wb") as f:
        np.save(f, np.zeros(3))  # an .npy file under an .npz name
    with pytest.raises(ValueError, match="it holds a single array"):
        gt.datasets.mnist.load_data(path=tmp_path / "one.npz")
    np.savez(tmp_path / "partial.npz", x_train=np.zeros((1, 28, 28)))
    with pytest.raises(ValueError, match="it lacks y_train, x_test, y_test"):
        gt.datasets.mnist.load_data(path=tmp_path / "partial.npz")


def test_unreachable_mirrors_leave_no_folder_and_say_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("GPUTRAIN_DATA_DIR", str(tmp_path / "cache" / "datasets"))
    with pytest.raises(files.DatasetUnavailableError) as caught:
        mnist_like.load("toy", {f: "0" * 64 for f in mnist_like.FILES}, [(tmp_path / "gone").as_uri()], None)
    assert isinstance(caught.value, OSError)
    message = str(caught.value)
    assert message.startswith("The toy dataset is not on this machine and could not be downloaded")
    assert f"copy the 4 file(s) {', '.join(mnist_like.FILES)} into {tmp_path / 'cache' / 'datasets' / 'toy'}" in message
    assert message.endswith("or pass path= to load_data with a folder that holds them.")
    assert not (tmp_path / "cache").exists()
