"""Which probe calls launch a test kernel on the GPU: none that list devices (a kernel creates a GPU
context, which would hold GPU memory in the user's notebook), only `gputrain doctor` on the command line
or doctor(run_kernels=True); a failing kernel becomes a finding with the rebuild command. And the
reinstall command the findings give: pip's record of where this gputrain came from."""
import json
from importlib import metadata

import pytest

import gputrain
from fakes.fixtures import INSTALL, fake_build, fake_libs, scenario  # noqa: F401  (pytest fixtures)
from fakes.machines import nvidia_t4
from gputrain import cli
from gputrain.probe import build


def test_listing_devices_launches_no_kernel(scenario, fake_build, capsys):
    nvidia_t4(scenario)
    assert [d.id for d in gputrain.devices() if d.usable] == ["cpu", "cuda:0"]
    assert gputrain.is_gpu_available()
    assert [d.name for d in gputrain.device_lib.list_local_devices()] == ["/device:CPU:0", "/device:GPU:0"]
    assert cli.main(["devices"]) == 0 and cli.main(["devices", "--json"]) == 0
    report = gputrain.doctor()
    assert report.default_device == "cuda:0" and "kernels-fail" not in [f.id for f in report.findings]
    assert fake_build.kernel_launches == []
    capsys.readouterr()
    assert cli.main(["doctor"]) == 0  # the command line checks with a kernel, in its own process
    assert fake_build.kernel_launches == ["cuda"]
    assert "gputrain will run on: cuda:0" in capsys.readouterr().out


def test_a_failing_test_kernel_is_a_finding(scenario, fake_build, capsys):
    nvidia_t4(scenario)
    fake_build.kernel_failures["cuda"] = "GPUError: add: no kernel image is available for execution on the device"
    assert gputrain.doctor().default_device == "cuda:0"  # no launch: nothing to contradict the probe
    report = gputrain.doctor(run_kernels=True)
    assert report.default_device == "cpu" and not report.gpu_available
    (finding,) = report.by_id("kernels-fail")
    assert finding.severity == "error"
    assert finding.seen == ("cuda:0 (Tesla T4) passes every check of the probe, but a test kernel of this "
                            "build failed on it: GPUError: add: no kernel image is available for execution on "
                            "the device")
    assert finding.action == ("reinstall gputrain built on this machine, so that it compiles for this GPU: "
                              f"{INSTALL} -Ccmake.define.CMAKE_CUDA_ARCHITECTURES=75")
    # Once a kernel failed in this process, the API's report says so too, without launching again.
    launches = len(fake_build.kernel_launches)
    assert "kernels-fail" in [f.id for f in gputrain.doctor().findings]
    assert len(fake_build.kernel_launches) == launches
    capsys.readouterr()  # doctor() printed its report (nothing here displays the value it returns)
    assert cli.main(["doctor", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["default_device"] == "cpu" and "kernels-fail" in [f["id"] for f in data["findings"]]


class FakeDistribution:
    def __init__(self, direct_url):
        self.direct_url = direct_url

    def read_text(self, name):
        assert name == "direct_url.json"
        return None if self.direct_url is None else json.dumps(self.direct_url)


@pytest.mark.parametrize("direct_url, source", [
    ({"url": "https://github.com/someone/gputrain.git",
      "vcs_info": {"vcs": "git", "requested_revision": "main", "commit_id": "89ab"}},
     "git+https://github.com/someone/gputrain.git@main"),
    ({"url": "https://github.com/someone/gputrain.git", "vcs_info": {"vcs": "git", "commit_id": "89ab"}},
     "git+https://github.com/someone/gputrain.git@89ab"),
    ({"url": "file:///home/me/my%20code/gputrain", "dir_info": {}}, "/home/me/my code/gputrain"),
    ({"url": "https://example.org/gputrain-0.1.tar.gz", "archive_info": {}}, "https://example.org/gputrain-0.1.tar.gz"),
    (None, None),
    ({"no": "url"}, None),
])
def test_reinstall_command_names_where_gputrain_came_from(monkeypatch, direct_url, source):
    monkeypatch.setattr(metadata, "distribution", lambda name: FakeDistribution(direct_url))
    assert build.install_source() == source
    command = build.reinstall_command("GPUTRAIN_CUDA=ON")
    if source:
        assert command == f'pip install --force-reinstall --no-cache-dir "{source}" -Ccmake.define.GPUTRAIN_CUDA=ON'
    else:
        assert command == ('pip install --force-reinstall --no-cache-dir "." -Ccmake.define.GPUTRAIN_CUDA=ON '
                           "(from your gputrain checkout)")


def test_reinstall_command_without_an_installed_distribution(monkeypatch):
    def missing(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "distribution", missing)
    assert build.reinstall_command() == 'pip install --force-reinstall --no-cache-dir "." (from your gputrain checkout)'
