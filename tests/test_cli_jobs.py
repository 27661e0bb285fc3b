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
    assert "Resuming from" in again.stdout and "Epoch 1/2" not in again.stdout and "Epoch 2/2" in again.stdout


def test_train_without_data_names_the_problem(tmp_path):
    result = gputrain("train", "mnist", "--data", str(tmp_path), "--device", "cpu")
    assert result.returncode != 0 and "lacks train-images-idx3-ubyte.gz" in result.stderr


def test_bench_quick_json_on_cpu():
    result = gputrain("bench", "--quick", "--json", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    workloads = [r["workload"] for r in rows]
    assert len(rows) == 6 and workloads[0].startswith("fp32 matmul") and "MNIST" in workloads[-1]
    assert all(r["device"] == "cpu" and r["gputrain_ms"] > 0 for r in rows)
    assert rows[0]["gputrain_rate"].endswith("GFLOP/s") and float(rows[0]["gputrain_rate"].split()[0]) > 0.1


def test_bench_rejects_unknown_device():
    result = gputrain("bench", "--quick", "--device", "tpu")
    assert result.returncode != 0 and "tpu" in result.stderr
