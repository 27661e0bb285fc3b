"""The caching allocator, driven over host memory with a byte budget (the same C++ class serves every
GPU): reuse, best fit, splitting, merging, limits, growth policy, out-of-memory retry, threads."""
import threading

import numpy as np
import pytest

import gputrain as gt
from gputrain import _testing

MiB = 1 << 20


def make(budget=64 * MiB):
    return _testing.HostBudgetAllocator(budget)


def test_freed_block_is_reused_without_new_device_memory():
    a = make()
    p = a.allocate(1000)
    a.deallocate(p)
    q = a.allocate(900)  # rounds to the same 1024-byte block
    assert q == p
    assert a.raw_allocations() == 1 and a.stats()["num_allocations"] == 2


def test_small_requests_split_one_segment():
    a = make()
    ptrs = [a.allocate(512) for _ in range(8)]
    assert a.raw_allocations() == 1  # one 2 MiB segment serves them all
    assert sorted(ptrs) == [ptrs[0] + 512 * i for i in range(8)]
    s = a.stats()
    assert s["allocated_bytes"] == 8 * 512 and s["reserved_bytes"] == 2 * MiB


def test_best_fit_picks_the_smallest_block_that_fits():
    a = make()
    big, sep1, small, sep2 = a.allocate(8192), a.allocate(512), a.allocate(2048), a.allocate(512)
    a.deallocate(big)
    a.deallocate(small)
    assert a.allocate(1500) == small  # 2048 fits better than 8192


def test_neighbours_merge_and_empty_cache_returns_segments():
    a = make()
    ptrs = [a.allocate(4096) for _ in range(5)]
    for p in ptrs[::2] + ptrs[1::2]:  # free out of order so merges happen on both sides
        a.deallocate(p)
    assert a.stats()["allocated_bytes"] == 0 and a.stats()["reserved_bytes"] == 2 * MiB
    assert a.allocate(MiB) == ptrs[0]  # the segment is one free block again
    a.deallocate(ptrs[0])
    a.empty_cache()
    assert a.stats()["reserved_bytes"] == 0 and a.raw_releases() == 1


def test_large_requests_get_their_own_segments():
    a = make()
    p = a.allocate(30 * MiB)
    s = a.stats()
    assert s["reserved_bytes"] == 30 * MiB and s["allocated_bytes"] == 30 * MiB
    a.deallocate(p)


def test_blocks_never_overlap():
    a = make(budget=512 * MiB)
    rng = np.random.default_rng(0)
    live = {}
    for i in range(400):
        if live and rng.random() < 0.4:
            p, (n, byte) = live.popitem()
            assert a.holds(p, n, byte), "a live block was overwritten"
            a.deallocate(p)
        else:
            n = int(rng.choice([100, 3000, 70000, 1_500_000, 6_000_000]))
            p = a.allocate(n)
            byte = i % 251
            a.fill(p, n, byte)
            live[p] = (n, byte)
    for p, (n, byte) in live.items():
        assert a.holds(p, n, byte)
        a.deallocate(p)
    assert a.stats()["allocated_bytes"] == 0


def test_limit_raises_out_of_memory_with_numbers():
    a = make()
    a.set_limit(3 * MiB)
    p = a.allocate(2 * MiB)
    with pytest.raises(gt.OutOfMemoryError) as info:
        a.allocate(2 * MiB)
    message = str(info.value)
    assert "requested 2097152 bytes" in message and "limit 3145728 bytes (3.0 MiB)" in message and "holds" in message
    assert isinstance(info.value, MemoryError)
    assert a.stats()["num_ooms"] == 1
    a.deallocate(p)
    q = a.allocate(2 * MiB)  # fits again once the first block is back
    a.deallocate(q)


def test_out_of_memory_empties_the_cache_and_retries_once():
    a = make(budget=40 * MiB)
    p = a.allocate(24 * MiB)
    a.deallocate(p)  # cached: 24 MiB reserved, nothing live
    q = a.allocate(30 * MiB)  # 24 + 30 > 40: only fits once the cache is given back
    s = a.stats()
    assert s["num_oom_retries"] == 1 and s["num_ooms"] == 0 and s["reserved_bytes"] == 30 * MiB
    a.deallocate(q)


def test_segment_falls_back_to_the_exact_size():
    a = make(budget=8 * MiB)
    p = a.allocate(6 * MiB)  # a 20 MiB segment is preferred but only 8 MiB exist
    assert a.stats()["reserved_bytes"] == 6 * MiB
    a.deallocate(p)


def test_exhausted_device_raises_after_the_retry():
    a = make(budget=8 * MiB)
    p = a.allocate(6 * MiB)
    with pytest.raises(gt.OutOfMemoryError, match=r"requested .* free of .* on the device"):
        a.allocate(6 * MiB)
    s = a.stats()
    assert s["num_oom_retries"] == 1 and s["num_ooms"] == 1
    a.deallocate(p)


def test_no_growth_reserves_the_limit_once():
    a = make()
    a.set_growth(False)
    a.set_limit(8 * MiB)
    ptrs = [a.allocate(n) for n in (100, 3 * MiB, 1000, 2 * MiB)]
    assert a.raw_allocations() == 1 and a.stats()["reserved_bytes"] == 8 * MiB
    with pytest.raises(gt.OutOfMemoryError, match="no growth"):
        a.allocate(4 * MiB)
    for p in ptrs:
        a.deallocate(p)


def test_no_growth_without_limit_reserves_most_of_free_memory():
    a = make(budget=20 * MiB)
    a.set_growth(False)
    p = a.allocate(1000)
    assert a.stats()["reserved_bytes"] == 19 * MiB  # 95% of the free 20 MiB
    a.deallocate(p)


def test_policy_is_fixed_once_in_use():
    a = make()
    a.set_limit(4 * MiB)
    a.deallocate(a.allocate(10))
    with pytest.raises(ValueError, match="after the device has been used"):
        a.set_growth(False)
    with pytest.raises(ValueError, match="after the device has been used"):
        a.set_limit(8 * MiB)


def test_unknown_pointer_is_rejected():
    a = make()
    with pytest.raises(ValueError, match="not allocated here"):
        a.deallocate(12345)


def test_concurrent_allocation_from_threads():
    a = make(budget=256 * MiB)
    errors = []

    def worker(seed):
        rng = np.random.default_rng(seed)
        live = []
        try:
            for i in range(300):
                if live and rng.random() < 0.5:
                    p, n, byte = live.pop(int(rng.integers(len(live))))
                    if not a.holds(p, n, byte):
                        errors.append("corrupted block")
                    a.deallocate(p)
                else:
                    n = int(rng.choice([64, 4096, 200_000, 2_000_000]))
                    p = a.allocate(n)
                    byte = (seed * 31 + i) % 256
                    a.fill(p, n, byte)
                    live.append((p, n, byte))
            for p, n, byte in live:
                if not a.holds(p, n, byte):
                    errors.append("corrupted block")
                a.deallocate(p)
        except Exception as exc:  # reported below; a thread's exception would otherwise be lost
            errors.append(repr(exc))

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    s = a.stats()
    assert s["allocated_bytes"] == 0 and s["num_allocations"] > 0


def test_gpu_memory_policy_api(device):
    if device == "cpu":
        with pytest.raises(ValueError, match="no GPU memory policy"):
            gt.memory_stats("cpu")
        return
    stats = gt.memory_stats(device)
    assert {"allocated_bytes", "reserved_bytes", "peak_allocated_bytes", "num_allocations",
            "num_oom_retries", "growth"} <= set(stats)
    before = stats["allocated_bytes"]
    t = gt.zeros((1024, 1024), device=device)
    assert gt.memory_stats(device)["allocated_bytes"] >= before + 4 * MiB
    del t
    gt.empty_cache(device)
    with pytest.raises(ValueError, match="after the device has been used"):
        gt.config.set_memory_growth(device, False)
