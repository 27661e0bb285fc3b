"""detect_platform(): every platform signal (environment variables, marker files, DMI, /proc), the
order in which they win, session limits, the session's age from PID 1, and the persistent directory."""
import pytest

import gputrain
from fakes.fixtures import fake_libs, scenario  # noqa: F401  (pytest fixtures)
from gputrain.probe import platform

HOUR = 3600


def test_plain_machine_is_local(scenario):
    p = gputrain.detect_platform()
    assert (p.name, p.session_limit, p.persistent_dir) == ("local", None, None)
    assert p.details == {"container": None}
    assert p.session_elapsed == pytest.approx(600.0, abs=0.02)  # FakeRoot starts PID 1 600 s ago


@pytest.mark.parametrize("variable", ["COLAB_RELEASE_TAG", "COLAB_GPU"])
def test_colab_from_environment(scenario, monkeypatch, variable):
    monkeypatch.setenv(variable, "release-colab_20240626-060133_RC00")
    scenario.root.write("/.dockerenv", "")
    p = gputrain.detect_platform()
    assert p.name == "colab" and p.session_limit == 12 * HOUR
    assert p.details["drive_mounted"] is False and p.details["container"] == "docker"
    assert p.persistent_dir is None  # Drive not mounted


def test_colab_with_drive_mounted(scenario, monkeypatch):
    monkeypatch.setenv("COLAB_RELEASE_TAG", "release-colab_20240626-060133_RC00")
    scenario.root.mkdir("/content/drive/MyDrive")
    p = gputrain.detect_platform()
    assert p.persistent_dir == "/content/drive/MyDrive" and p.details["drive_mounted"] is True
    assert p.details["release"] == "release-colab_20240626-060133_RC00"


def test_kaggle_from_environment_and_from_its_directory(scenario, monkeypatch):
    monkeypatch.setenv("KAGGLE_KERNEL_RUN_TYPE", "Interactive")
    p = gputrain.detect_platform()
    assert (p.name, p.session_limit, p.details["run_type"], p.persistent_dir) == (
        "kaggle", 12 * HOUR, "Interactive", None)
    monkeypatch.delenv("KAGGLE_KERNEL_RUN_TYPE")
    scenario.root.mkdir("/kaggle/working")
    p = gputrain.detect_platform()
    assert (p.name, p.persistent_dir, p.details["run_type"]) == ("kaggle", "/kaggle/working", None)


def test_paperspace_from_environment_and_from_directories(scenario, monkeypatch):
    monkeypatch.setenv("PAPERSPACE_NOTEBOOK_ID", "nab12cd34")
    p = gputrain.detect_platform()
    assert (p.name, p.session_limit, p.details["notebook"], p.persistent_dir) == (
        "paperspace", 6 * HOUR, "nab12cd34", None)
    monkeypatch.delenv("PAPERSPACE_NOTEBOOK_ID")
    scenario.root.mkdir("/notebooks")
    assert gputrain.detect_platform().name == "local"  # /notebooks alone is no sign
    scenario.root.mkdir("/storage")
    p = gputrain.detect_platform()
    assert (p.name, p.persistent_dir) == ("paperspace", "/storage")


@pytest.mark.parametrize("marker, kind", [
    ("/opt/ml/input/config/resourceconfig.json", "training job"),
    ("/opt/ml/metadata/resource-metadata.json", "notebook instance"),
])
def test_sagemaker_kinds(scenario, marker, kind):
    scenario.root.write(marker, "{}")
    p = gputrain.detect_platform()
    assert (p.name, p.details["kind"], p.session_limit, p.persistent_dir) == ("sagemaker", kind, None, None)


def test_sagemaker_studio(scenario):
    scenario.root.write("/opt/ml/metadata/resource-metadata.json", "{}")
    scenario.root.mkdir("/home/sagemaker-user")
    assert gputrain.detect_platform().details["kind"] == "studio"


def test_ec2_nitro_gives_instance_type_and_id(scenario):
    scenario.root.write("/sys/class/dmi/id/sys_vendor", "Amazon EC2\n")
    scenario.root.write("/sys/class/dmi/id/product_name", "g4dn.xlarge\n")
    scenario.root.write("/sys/class/dmi/id/board_asset_tag", "i-0123456789abcdef0\n")
    p = gputrain.detect_platform()
    assert p.name == "ec2"
    assert p.details == {"instance_type": "g4dn.xlarge", "instance_id": "i-0123456789abcdef0", "container": None}


def test_ec2_xen_without_instance_type(scenario):
    scenario.root.write("/sys/hypervisor/uuid", "ec2e1916-9099-7caf-fd21-012345abcdef\n")
    scenario.root.write("/sys/class/dmi/id/product_name", "HVM domU\n")
    p = gputrain.detect_platform()
    assert p.name == "ec2" and p.details["instance_type"] is None


@pytest.mark.parametrize("setup, runtime", [
    (lambda r: r.write("/.dockerenv", ""), "docker"),
    (lambda r: r.write("/run/.containerenv", ""), "podman"),
    (lambda r: r.write("/proc/1/cgroup", "0::/kubepods/besteffort/pod1234/abcd\n"), "kubernetes"),
    (lambda r: r.write("/proc/1/cgroup", "12:cpu:/docker/3f2a9c\n"), "docker"),
])
def test_containers(scenario, setup, runtime):
    setup(scenario.root)
    p = gputrain.detect_platform()
    assert p.name == "docker" and p.details["container"] == runtime


def test_container_on_ec2_is_docker_with_ec2_details(scenario):
    scenario.root.write("/.dockerenv", "")
    scenario.root.write("/sys/class/dmi/id/sys_vendor", "Amazon EC2\n")
    scenario.root.write("/sys/class/dmi/id/product_name", "p3.2xlarge\n")
    p = gputrain.detect_platform()
    assert p.name == "docker" and p.details["ec2_instance_type"] == "p3.2xlarge"


def test_wsl_from_kernel_release_and_environment(scenario, monkeypatch):
    scenario.root.write("/proc/sys/kernel/osrelease", "5.15.153.1-microsoft-standard-WSL2\n")
    p = gputrain.detect_platform()
    assert p.name == "wsl" and p.details["kernel"] == "5.15.153.1-microsoft-standard-WSL2"
    scenario.root.write("/proc/sys/kernel/osrelease", "6.1.0\n")
    monkeypatch.setenv("WSL_DISTRO_NAME", "Ubuntu-22.04")
    p = gputrain.detect_platform()
    assert (p.name, p.details["distro"]) == ("wsl", "Ubuntu-22.04")


def test_notebook_service_wins_over_container_and_ec2(scenario, monkeypatch):
    scenario.root.write("/.dockerenv", "")
    scenario.root.write("/sys/class/dmi/id/sys_vendor", "Amazon EC2\n")
    scenario.root.write("/opt/ml/metadata/resource-metadata.json", "{}")
    assert gputrain.detect_platform().name == "sagemaker"
    monkeypatch.setenv("KAGGLE_URL_BASE", "https://www.kaggle.com")
    assert gputrain.detect_platform().name == "kaggle"
    monkeypatch.setenv("COLAB_GPU", "1")
    assert gputrain.detect_platform().name == "colab"


def test_session_elapsed_and_left(scenario, monkeypatch):
    monkeypatch.setenv("COLAB_GPU", "1")
    scenario.root.uptime(started_ago=11.5 * HOUR, uptime=50 * HOUR)
    p = gputrain.detect_platform()
    assert p.session_elapsed == pytest.approx(11.5 * HOUR, abs=0.02)
    assert p.session_left == pytest.approx(0.5 * HOUR, abs=0.02)


def test_session_elapsed_unknown_without_proc(scenario):
    scenario.root.remove("/proc/1/stat")
    p = gputrain.detect_platform()
    assert p.session_elapsed is None and p.session_left is None
    scenario.root.write("/proc/1/stat", "garbage without the closing parenthesis")
    assert platform.session_elapsed() is None


def test_platform_names_are_the_documented_ones():
    assert platform.NAMES == ("colab", "kaggle", "paperspace", "sagemaker", "ec2", "docker", "wsl", "local")
    assert set(platform.SESSION_LIMITS) == {"colab", "kaggle", "paperspace"}


def test_platform_serialises(scenario, monkeypatch):
    monkeypatch.setenv("KAGGLE_KERNEL_RUN_TYPE", "Batch")
    data = gputrain.detect_platform().to_dict()
    assert data["name"] == "kaggle" and data["session_limit"] == 12 * HOUR
    assert data["details"] == {"run_type": "Batch", "container": None}
    assert str(gputrain.detect_platform()) == "kaggle (run_type=Batch)"


@pytest.mark.parametrize("setup, name", [
    (lambda r, mp: mp.setenv("COLAB_BACKEND_VERSION", "1.0"), "colab"),
    (lambda r, mp: r.mkdir("/var/colab"), "colab"),
    (lambda r, mp: mp.setenv("SM_TRAINING_ENV", "{}"), "sagemaker"),
    (lambda r, mp: mp.setenv("TRAINING_JOB_NAME", "job-1"), "sagemaker"),
    (lambda r, mp: mp.setenv("SAGEMAKER_INTERNAL_IMAGE_URI", "x"), "sagemaker"),
    (lambda r, mp: r.write("/sys/class/dmi/id/bios_vendor", "Amazon EC2\n"), "ec2"),
    (lambda r, mp: r.write("/proc/1/cgroup", "0::/system.slice/containerd.service\n"), "docker"),
    (lambda r, mp: r.write("/proc/1/cgroup", "0::/lxc.payload.ubuntu\n"), "docker"),
    (lambda r, mp: mp.setenv("container", "oci"), "docker"),
])
def test_remaining_signals(scenario, monkeypatch, setup, name):
    setup(scenario.root, monkeypatch)
    assert gputrain.detect_platform().name == name
