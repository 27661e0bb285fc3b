"""Finding, downloading and verifying dataset files. Downloads go to a temporary name in the cache
folder, are checked against known sha256 sums, and only then renamed into place, so an interrupted or
corrupted download never leaves a file that looks good."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .. import settings


def cache_dir(name: str) -> Path:
    """GPUTRAIN_DATA_DIR/<name>, default ~/.gputrain/datasets/<name>."""
    root = settings.get("GPUTRAIN_DATA_DIR")
    if root is None:
        return Path.home() / ".gputrain" / "datasets" / name
    return Path(root).expanduser() / name


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class DatasetUnavailableError(OSError):
    """A dataset that is neither on this machine nor downloadable now. `explain(how)` words the remedy
    for the caller's way of pointing at a folder (load_data's path=, the command line's --data)."""

    def __init__(self, name: str, folder: Path, missing: list[str], failures: list[str]):
        self.name, self.folder, self.missing, self.failures = name, folder, missing, failures
        super().__init__(self.explain("pass path= to load_data with"))

    def explain(self, how: str) -> str:
        more = f" (and {len(self.failures) - 1} more failures)" if len(self.failures) > 1 else ""
        return (f"The {self.name} dataset is not on this machine and could not be downloaded: {self.failures[0]}{more}. "
                f"Either connect this machine to the internet and try again, or copy the "
                f"{len(self.missing)} file(s) {', '.join(self.missing)} into {self.folder}, or {how} a "
                f"folder that holds them.")


def fetch_all(name: str, expected: dict[str, str], folder: Path, mirrors: list[str],
              timeout: float = 60.0) -> list[Path]:
    """`folder/<file>` for each file of `expected` (file name -> sha256), each downloaded from the first
    mirror that serves it with the right checksum if it is not there yet (a cached file with a wrong
    checksum is downloaded again). On failure, folders this call created are removed again, so a
    machine without a network keeps no empty dataset folders, and DatasetUnavailableError says what to do."""
    created = [p for p in (folder, *folder.parents) if not p.exists()]
    found, missing, failures = [], [], []
    for filename, sha in expected.items():
        try:
            found.append(_fetch(filename, sha, folder, mirrors, timeout))
        except OSError as exc:
            missing.append(filename)
            failures.append(str(exc))
    if not missing:
        return found
    for path in created:  # deepest first; only while empty
        try:
            path.rmdir()
        except OSError:
            break
    raise DatasetUnavailableError(name, folder, missing, failures)


def _fetch(filename: str, expected_sha256: str, folder: Path, mirrors: list[str], timeout: float) -> Path:
    import urllib.request  # only when downloading: it costs 30 ms of every `import gputrain`

    target = folder / filename
    if target.exists() and sha256(target) == expected_sha256:
        return target
    folder.mkdir(parents=True, exist_ok=True)
    failures = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + filename
        partial = folder / f".{filename}.{os.getpid()}.part"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response, open(partial, "wb") as out:
                for chunk in iter(lambda: response.read(1 << 20), b""):
                    out.write(chunk)
            got = sha256(partial)
            if got != expected_sha256:
                failures.append(f"{url}: checksum {got} != {expected_sha256}")
                continue
            os.replace(partial, target)
            return target
        except OSError as exc:
            failures.append(f"{url}: {getattr(exc, 'reason', None) or exc}")
        finally:
            if partial.exists():
                partial.unlink()
    raise OSError(f"{filename}: " + "; ".join(failures))
