"""Where a result came from: git commit, package versions, command line."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True, timeout=10)
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
