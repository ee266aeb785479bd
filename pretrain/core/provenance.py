"""Where a result came from: git commit, package versions, command line."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata


def git_commit(outputs: tuple[str, ...] = ()) -> str:
    """HEAD, with "-dirty" if the working tree differs from it; ``outputs`` (paths the caller
    itself writes, e.g. benchmark results) do not count."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        excluded = [f":(exclude){path}" for path in outputs]
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", ".", *excluded], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    if out.returncode != 0:
        return "unknown"
    return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def package_versions(names=("torch", "torchvision", "timm", "accelerate", "faiss-cpu")) -> dict[str, str]:
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def provenance() -> dict:
    return {"git_commit": git_commit(), "packages": package_versions(), "argv": sys.argv}
