"""The loader shared by MNIST and Fashion-MNIST, which have the same four files and format."""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from . import files
from .idx import read_idx

FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def load(name: str, sha256: dict[str, str], mirrors: list[str], path=None):
    """Keras's format: ((x_train, y_train), (x_test, y_test)), uint8 images (N, 28, 28) and labels (N,).
    `path` names a folder holding the four IDX .gz files, or an .npz with x_train, y_train, x_test and
    y_test; with no path the files are downloaded once into the cache folder and verified."""
    if path is not None:
        path = Path(path).expanduser()
        if path.suffix == ".npz":
            return _from_npz(path)
        if not path.is_dir():
            raise FileNotFoundError(f"path: {path} is neither a folder with the {name} IDX files nor an .npz")
        missing = [f for f in FILES if not (path / f).exists()]
        if missing:
            raise FileNotFoundError(f"path: {path} lacks {', '.join(missing)}")
        found = [path / f for f in FILES]
        for f in found:
            if files.sha256(f) != sha256[f.name]:
                raise ValueError(f"{f}: checksum does not match the published {name} file")
    else:
        found = files.fetch_all(name, {f: sha256[f] for f in FILES}, files.cache_dir(name), mirrors)
    x_train, y_train, x_test, y_test = (read_idx(f) for f in found)
    _check(name, x_train, y_train, x_test, y_test)
    return (x_train, y_train), (x_test, y_test)


def _from_npz(path: Path):
    keys = ("x_train", "y_train", "x_test", "y_test")
    # NumPy's own messages for a file that is not such an archive suggest allow_pickle, which must never
    # be used on a file from elsewhere: each failure is said in words of what was expected instead.
    unreadable = f"{path}: not a readable .npz archive of the arrays {', '.join(keys)}"
    try:
        data = np.load(path, allow_pickle=False)
    except ValueError:  # not an archive nor an array: NumPy took it for pickled objects
        raise ValueError(f"{unreadable} (it is neither an .npz nor an .npy file)") from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{unreadable} ({type(exc).__name__}: {exc})") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise ValueError(f"{unreadable} (it holds a single array)")
    with data:
        missing = [k for k in keys if k not in data.files]
        if missing:
            raise ValueError(f"{path}: expected arrays {', '.join(keys)}; it lacks {', '.join(missing)}")
        try:
            arrays = [data[k] for k in keys]
        except ValueError:
            raise ValueError(f"{unreadable} (its arrays hold Python objects, not numbers)") from None
        except (OSError, EOFError, zipfile.BadZipFile) as exc:
            raise ValueError(f"{unreadable} ({type(exc).__name__}: {exc})") from None
    for key, array in zip(keys, arrays):
        if array.dtype.kind not in "biuf":
            raise ValueError(f"{path}: {key} holds {array.dtype}, expected numbers")
    _check(str(path), *arrays)
    return (arrays[0], arrays[1]), (arrays[2], arrays[3])


def _check(name, x_train, y_train, x_test, y_test):
    for x, y, part in ((x_train, y_train, "train"), (x_test, y_test, "test")):
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise ValueError(f"{name}: {part} images {x.shape} and labels {y.shape} do not match")
