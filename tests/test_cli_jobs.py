"""The command line's main job (`gputrain train mnist`) and `gputrain bench`, run as a user runs them."""
import json
import subprocess
import sys

import pytest

from datafiles import shared_data


def gputrain(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "gputrain", *args], capture_output=True, text=True,
                          timeout=timeout)


def test_train_mnist_reaches_accuracy_and_saves_a_resumable_checkpoint(tmp_path):
    data = shared_data("mnist")
    ckpt = tmp_path / "mnist.safetensors"
    first = gputrain("train", "mnist", "--data", str(data), "--epochs", "1", "--device", "cpu",
                     "--checkpoint", str(ckpt))
    assert first.returncode == 0, first.stderr
    accuracy = float(first.stdout.split("test accuracy: ")[1].split()[0])
    assert accuracy > 0.95, first.stdout  # one epoch; five reach about 0.977
    assert "1875/1875 [==============================]" in first.stdout.replace("\r", "\n")
    assert ckpt.exists()
    again = gputrain("train", "mnist", "--data", str(data), "--epochs", "2", "--device", "cpu",
                     "--checkpoint", str(ckpt), "--resume")
    assert again.returncode == 0, again.stderr
    assert "Resuming 'mnist_quickstart' from" in again.stdout and "Epoch 1/2" not in again.stdout and "Epoch 2/2" in again.stdout


def test_train_without_data_names_the_problem(tmp_path):
    result = gputrain("train", "mnist", "--data", str(tmp_path), "--device", "cpu")
    assert result.returncode != 0 and "lacks train-images-idx3-ubyte.gz" in result.stderr


def test_bench_quick_json_on_cpu():
    from gputrain import bench

    result = gputrain("bench", "--quick", "--json", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    workloads = [r["workload"] for r in rows]
    assert workloads[0].startswith("fp32 matmul") and workloads[1].startswith("copy") and "MNIST" in workloads[-1]
    assert all(r["device"] == "cpu" and r["gputrain_ms"] > 0 for r in rows)
    assert rows[0]["gputrain_rate"].endswith("GFLOP/s") and float(rows[0]["gputrain_rate"].split()[0]) > 0.1
    # The quick subset of the benchmark workloads, one of each kind, forward+backward, at the CPU's batch.
    ran = [r for r in rows if r.get("kind") in ("conv", "pool", "dense")]
    assert [r["name"] for r in ran] == list(bench.QUICK)
    guide = {wl.name: wl for wl in bench.CONV + bench.POOL + bench.DENSE}
    for r in ran:
        full = guide[r["name"]].m if r["kind"] == "dense" else guide[r["name"]].n
        assert r["pass"] == "fwd+bwd" and r["guide_batch"] == full
        assert r["batch"] == max(1, full // bench.CPU_BATCH_DIVISOR) and r["batch_divisor"] == bench.CPU_BATCH_DIVISOR
        assert r["workload"].startswith(r["name"]) and f"N {r['batch']}/{full}" in r["workload"]
        assert float(r["gputrain_rate"].split()[0]) > 0
    peer = rows[0]["peer"]
    assert all((r["pytorch_ms"] is None) == (peer is None) for r in rows)


def test_bench_table_states_the_cpu_scaling():
    from gputrain import bench

    rows = [{"device": "cpu", "workload": "conv 56x56x64->64 3x3, N 8/128", "gputrain_ms": 100.0,
             "pytorch_ms": None, "ratio": None, "gputrain_rate": "55.5 GFLOP/s", "peer": None,
             "batch_divisor": 16, "cpu_load_at_start": 0.5}]
    text = bench.table(rows)
    assert "conv 56x56x64->64 3x3, N 8/128" in text and "55.5 GFLOP/s" in text
    assert "cpu: batches (and MNIST images) divided by 16" in text and "PyTorch not installed" in text


def test_bench_workloads_are_the_resnet18_and_colab_cnn_layers():
    """The conv, pooling and dense workloads the project benchmarks, shape for shape."""
    from gputrain import bench

    conv = {(w.n, w.h, w.w, w.c, w.k, w.kernel, w.stride, w.torch_padding) for w in bench.CONV}
    assert len(bench.CONV) == 8 and len(conv) == 8
    assert (128, 224, 224, 3, 64, 7, 2, 3) in conv  # 128·224²·3→64 7×7 s2 p3
    assert (128, 56, 56, 64, 64, 3, 1, 1) in conv  # 128·56²·64→64 3×3
    assert (128, 7, 7, 512, 512, 3, 1, 1) in conv  # 128·7²·512→512 3×3
    assert (32, 150, 150, 3, 16, 3, 1, 0) in conv  # 32·150²·3→16 3×3 valid
    assert (32, 36, 36, 32, 64, 3, 1, 0) in conv  # 32·36²·32→64 3×3
    assert {(w.padding, w.torch_padding) for w in bench.CONV} == {("same", 3), ("same", 1), ("valid", 0)}
    assert [w.out_hw() for w in bench.CONV] == [(112, 112), (56, 56), (28, 28), (14, 14), (7, 7), (148, 148),
                                                (72, 72), (34, 34)]
    pool = [(w.n, w.h, w.w, w.c, w.pool, w.stride, w.torch_padding) for w in bench.POOL]
    assert pool == [(32, 148, 148, 16, 2, 2, 0), (128, 112, 112, 64, 3, 2, 1)]  # max 2×2 s2; max 3×3 s2 p1
    assert [w.out_hw() for w in bench.POOL] == [(74, 74), (56, 56)]
    assert [(w.m, w.fin, w.fout) for w in bench.DENSE] == [(32, 18496, 512), (32, 784, 128), (4096, 4096, 4096)]
    assert set(bench.QUICK) <= {w.name for w in bench.CONV + bench.POOL + bench.DENSE}
    assert bench.CONV[0].flops(128) == 2.0 * 128 * 112 * 112 * 64 * 7 * 7 * 3


def test_bench_rejects_unknown_device():
    result = gputrain("bench", "--quick", "--device", "tpu")
    assert result.returncode == 2 and "tpu" in result.stderr and "Traceback" not in result.stderr


def test_bench_table_explains_its_workloads_in_its_own_words():
    from gputrain import bench

    rows = [{"device": "cpu", "workload": "conv 74x74x16->32 3x3 valid, N 2/32", "gputrain_ms": 1.0,
             "pytorch_ms": None, "ratio": None, "peer": None, "batch_divisor": 16}]
    text = bench.table(rows)
    assert "GUIDE" not in text
    assert "ResNet-18" in text and "Colab CNN" in text and "'N 2/32' ran batch 2 of a layer whose full batch is 32" in text


# ---- a user's mistakes: one line, what to do, exit status 2, nothing overwritten -----------------------

def one_line_error(result, *parts):
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) <= 3, result.stderr
    for part in parts:
        assert part in result.stderr, result.stderr


@pytest.mark.parametrize("epochs", ["0", "-1", "2.5"])
def test_train_refuses_a_bad_epoch_count_and_keeps_the_checkpoint(tmp_path, epochs):
    ckpt = tmp_path / "mnist.safetensors"
    ckpt.write_bytes(b"a trained model")
    result = gputrain("train", "mnist", "--epochs", epochs, "--checkpoint", str(ckpt), "--device", "cpu")
    assert result.returncode == 2 and "--epochs: expected an integer >= 1" in result.stderr
    assert ckpt.read_bytes() == b"a trained model"


def test_train_names_missing_data_and_a_missing_gpu_in_one_line(tmp_path):
    one_line_error(gputrain("train", "mnist", "--data", str(tmp_path / "nope")), "--data", "no such file or folder")
    one_line_error(gputrain("train", "mnist", "--data", str(tmp_path)), "--data", "lacks train-images-idx3-ubyte.gz")
    for command in (("train", "mnist"), ("bench", "--quick")):
        for device in ("cuda", "hip"):
            if gt_usable(device):
                continue
            one_line_error(gputrain(*command, "--device", device), f"--device {device}", "gputrain devices")


def gt_usable(backend):
    from gputrain import _backends
    return _backends.is_usable(backend)


def test_debug_shows_the_traceback(tmp_path):
    result = gputrain("train", "mnist", "--data", str(tmp_path), "--debug")
    assert result.returncode == 2 and "Traceback" in result.stderr and "lacks train-images" in result.stderr


def test_train_offline_says_what_to_do_and_leaves_no_empty_folder(tmp_path, monkeypatch, capsys):
    from gputrain import cli
    from gputrain.datasets import mnist

    monkeypatch.setattr(mnist, "MIRRORS", [(tmp_path / "no-mirror").as_uri()])  # as unreachable as offline
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("GPUTRAIN_DATA_DIR", raising=False)
    assert cli.main(["train", "mnist", "--epochs", "1", "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("gputrain train: The mnist dataset is not on this machine")
    assert "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, " \
           "t10k-labels-idx1-ubyte.gz" in err
    assert f"into {tmp_path / 'home' / '.gputrain' / 'datasets' / 'mnist'}, or pass --data with a folder" in err
    assert not (tmp_path / "home").exists()  # no empty dataset folder left behind


@pytest.mark.parametrize("command", [("devices", "--json"), ("doctor", "--json"), ("build-info",), ("devices",)])
def test_a_closed_pipe_ends_quietly(command):
    # `gputrain doctor --json | head`: the reader may be gone before the output is written.
    for _ in range(3):
        process = subprocess.Popen([sys.executable, "-m", "gputrain", *command], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE)
        process.stdout.close()
        err = process.stderr.read().decode()
        process.wait(timeout=120)
        assert "BrokenPipeError" not in err and "Traceback" not in err, err
