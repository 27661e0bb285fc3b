"""Finding, downloading and verifying dataset files. Downloads go to a temporary name in the cache
folder, are checked against known sha256 sums, and only then renamed into place, so an interrupted or
corrupted download never leaves a file that looks good."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path


def cache_dir(name: str) -> Path:
    """GPUTRAIN_DATA_DIR/<name>, default ~/.gputrain/datasets/<name>."""
    root = os.environ.get("GPUTRAIN_DATA_DIR") or os.path.join(os.path.expanduser("~"), ".gputrain", "datasets")
    return Path(root) / name


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch(filename: str, expected_sha256: str, folder: Path, mirrors: list[str], timeout: float = 60.0) -> Path:
    """`folder/filename`, downloaded from the first mirror that serves a file with the right checksum if
    it is not there yet. A cached file with a wrong checksum is downloaded again."""
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
            failures.append(f"{url}: {exc}")
        finally:
            if partial.exists():
                partial.unlink()
    raise OSError(f"could not download {filename} into {folder}:\n  " + "\n  ".join(failures) +
                  "\nDownload it by hand into that folder, or pass path= to a folder that holds it.")
