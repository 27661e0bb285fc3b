"""Architecture coverage: CMake's CUDA architecture strings as build_info() records them, the SASS and
PTX rules, AMD's exact-match rule with the HSA override for gfx103x only, and the toolkit → minimum
driver table."""
import pytest

from gputrain.probe import archs
from gputrain.probe.archs import CudaTarget


def test_parse_plain_real_virtual_and_variants():
    assert archs.parse_cuda_architectures("75,80-real;90-virtual,90a-real,100f") == [
        CudaTarget(7, 5, sass=True, ptx=True), CudaTarget(8, 0, sass=True, ptx=False),
        CudaTarget(9, 0, sass=False, ptx=True), CudaTarget(9, 0, sass=True, ptx=False, variant="a"),
        CudaTarget(10, 0, sass=True, ptx=True, variant="f"),
    ]


def test_parse_native_all_and_unknown():
    assert archs.parse_cuda_architectures("native (86-real,89-real)") == [
        CudaTarget(8, 6, True, False), CudaTarget(8, 9, True, False)]
    assert archs.parse_cuda_architectures("native") is None  # says nothing checkable
    assert archs.parse_cuda_architectures("") is None
    assert archs.parse_cuda_architectures("all-major") is archs.ALL
    with pytest.raises(ValueError, match="'sm_75' is not a CUDA architecture"):
        archs.parse_cuda_architectures("sm_75")


@pytest.mark.parametrize("built, cc, how, via", [
    ("75", (7, 5), "sass", "sm_75"),
    ("75-real", (8, 6), None, None),  # SASS of another major never runs
    ("75", (8, 6), "ptx", "sm_75"),  # PTX JIT-compiles forward
    ("80-real,86-real", (8, 9), "sass", "sm_86"),  # 8.6 SASS runs on 8.9 (same major, higher minor)
    ("86-real", (8, 0), None, None),  # but not on 8.0
    ("90a-real", (9, 0), "sass", "sm_90a"),
    ("90a-real", (10, 0), None, None),  # arch-specific code runs on 9.0 alone
    ("90a", (10, 0), None, None),  # and carries no forward-compatible PTX
    ("75-real,80-real,86-real,89-real,90-real,100-real,120", (12, 1), "sass", "sm_120"),
    ("75-real,80-real,86-real,89-real,90-real,100-real,120", (10, 3), "sass", "sm_100"),
    ("50-real,60-real,70-real,75-real,80-real,86-real,89-real,90", (10, 0), "ptx", "sm_90"),
    ("90-virtual", (8, 9), None, None),  # PTX for a newer device does not run on an older one
])
def test_cuda_coverage(built, cc, how, via):
    got_how, target = archs.cuda_coverage(cc, archs.parse_cuda_architectures(built))
    assert got_how == how
    assert (target.name if target else None) == via


def test_cuda_coverage_all():
    assert archs.cuda_coverage((9, 0), archs.ALL) == ("sass", None)


def test_hip_architectures():
    assert archs.parse_hip_architectures("gfx1030,gfx1031") == {"gfx1030", "gfx1031"}
    assert archs.parse_hip_architectures("gfx90a:xnack-;gfx942") == {"gfx90a", "gfx942"}
    assert archs.parse_hip_architectures(None) is None
    with pytest.raises(ValueError, match="'sm_75' is not an AMD architecture"):
        archs.parse_hip_architectures("gfx1030,sm_75")


@pytest.mark.parametrize("gfx, compiled, override", [
    ("gfx1031", {"gfx1030"}, "10.3.0"), ("gfx1032", {"gfx1030", "gfx1100"}, "10.3.0"),
    ("gfx1035", {"gfx1030"}, "10.3.0"), ("gfx1031", {"gfx1100"}, None),  # gfx1030 must be compiled in
    ("gfx1030", {"gfx1030"}, None), ("gfx1101", {"gfx1100", "gfx1030"}, None),  # never outside gfx103x
    ("gfx90c", {"gfx90a", "gfx1030"}, None), ("gfx1010", {"gfx1030"}, None),
])
def test_hsa_override_only_for_gfx103x(gfx, compiled, override):
    assert archs.hsa_override_for(gfx, compiled) == override


def test_gfx_from_override():
    assert archs.gfx_from_override("10.3.0") == "gfx1030"
    assert archs.gfx_from_override("9.0.10") == "gfx90a"
    assert archs.gfx_from_override("ten") is None and archs.gfx_from_override(None) is None


def test_minimum_driver_table_and_versions():
    assert archs.MIN_DRIVER == {13: "580", 12: "525.60.13", 11: "450.80.02"}
    assert archs.min_driver("13.0.88") == "580" and archs.min_driver("12.4.131") == "525.60.13"
    assert archs.min_driver("10.2") is None and archs.min_driver(None) is None
    assert archs.cuda_version_text(13000) == "13.0" and archs.cuda_version_text(12020) == "12.2"
    assert archs.cuda_version_text(None) is None
    assert archs.version_tuple("535.104.05") == (535, 104, 5)
