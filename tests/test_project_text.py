"""The project stands on its own: what it ships and documents never sends a reader to a document or a
folder outside the repository (a "guide" section number, a sibling folder of the checkout)."""
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTSIDE = re.compile(r"\bGUIDE\b|\.\./shared|\bshared/data\b")


def test_no_reference_to_documents_outside_the_repository():
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    if listed.returncode != 0:
        import pytest
        pytest.skip("not a git checkout: the tracked files are unknown")
    found = []
    for name in listed.stdout.splitlines():
        if name.startswith("tests/"):
            continue  # tests may find the developers' data beside the checkout
        path = ROOT / name
        if not path.is_file() or path.suffix in (".so", ".gz", ".png"):
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
            if OUTSIDE.search(line):
                found.append(f"{name}:{number}: {line.strip()[:100]}")
    assert not found, "\n".join(found)
