"""The GPU module reads GPUTRAIN_POOL_KERNEL once per process, at the first pooling launch, so a case of
the simple pooling kernels runs in a child pytest started with GPUTRAIN_POOL_KERNEL=simple. One child per
test file runs all of that file's simple-kernel cases the parent collected; each parent case then
reports its own outcome there."""
import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

import pytest

VARIABLE, SIMPLE = "GPUTRAIN_POOL_KERNEL", "simple"
_outcomes: dict[str, dict[str, tuple[str, str]]] = {}  # file -> {case name: (outcome, message)}


def _run_child(request, tmp_dir) -> dict[str, tuple[str, str]]:
    mine = [item for item in request.session.items if item.path == request.path
            and getattr(item, "callspec", None) and item.callspec.params.get("variant") == SIMPLE]
    report = os.path.join(tmp_dir, "simple-kernels.xml")
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--junitxml", report,
                             *[item.nodeid for item in mine]], capture_output=True, text=True, timeout=600,
                            cwd=request.config.rootpath, env={**os.environ, VARIABLE: SIMPLE})
    if not os.path.exists(report):
        pytest.fail(f"the child pytest with {VARIABLE}={SIMPLE} wrote no report:\n{result.stdout[-3000:]}"
                    f"\n{result.stderr[-3000:]}")
    outcomes = {}
    for case in ElementTree.parse(report).iter("testcase"):
        outcome, message = "passed", ""
        for kind in ("failure", "error", "skipped"):
            found = case.find(kind)
            if found is not None:
                outcome, message = kind, f"{found.get('message', '')}\n{found.text or ''}"
                break
        outcomes[case.get("name")] = (outcome, message)
    return outcomes


def simple_kernels_ran_elsewhere(request, variant: str) -> bool:
    """For a case with variant="simple": False in the child (the case runs here, on the simple kernels);
    in the parent, True once the child ran the case and passed it (pytest.fail or pytest.skip as it did
    there otherwise). False for any other variant."""
    if variant != SIMPLE or os.environ.get(VARIABLE) == SIMPLE:
        return False
    key = str(request.path)
    if key not in _outcomes:
        _outcomes[key] = _run_child(request, request.getfixturevalue("tmp_path_factory").mktemp("child"))
    outcome, message = _outcomes[key].get(request.node.name, ("missing", "the child pytest did not run it"))
    if outcome == "skipped":
        pytest.skip(message.strip())
    if outcome != "passed":
        pytest.fail(f"with {VARIABLE}={SIMPLE} (in a child process): {outcome}: {message}")
    return True
