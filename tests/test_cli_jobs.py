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
    from gputrain import bench

    result = gputrain("bench", "--quick", "--json", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    workloads = [r["workload"] for r in rows]
    assert workloads[0].startswith("fp32 matmul") and workloads[1].startswith("copy") and "MNIST" in workloads[-1]
    assert all(r["device"] == "cpu" and r["gputrain_ms"] > 0 for r in rows)
    assert rows[0]["gputrain_rate"].endswith("GFLOP/s") and float(rows[0]["gputrain_rate"].split()[0]) > 0.1
    # The quick subset of GUIDE §6's workloads, one of each kind, forward+backward, at the CPU's batch.
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


def test_bench_workloads_are_guide_section_6():
    """The conv, pooling and dense workloads of GUIDE §6, shape for shape."""
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
    assert result.returncode != 0 and "tpu" in result.stderr
