"""Check that a supported Java runs Spark and S3Proxy, and say how to fix it when not."""

import re
import shutil
import subprocess
import sys

SUPPORTED_MAJORS = (17, 21)
HOW_TO_FIX = (
    "Install Java 17 (Debian/Ubuntu: `sudo apt-get install openjdk-17-jdk-headless`; "
    "macOS: `brew install openjdk@17`; conda: `conda env create -f environment.yml`) "
    "and put it first on PATH or set JAVA_HOME."
)


class JavaNotFound(RuntimeError):
    pass


def java_major_version(java: str = "java") -> int:
    """Return the major version of `java`, e.g. 17."""
    executable = shutil.which(java)
    if executable is None:
        raise JavaNotFound(f"No `java` on PATH. {HOW_TO_FIX}")
    banner = subprocess.run(
        [executable, "-version"], capture_output=True, text=True, check=False
    ).stderr
    match = re.search(r'version "(\d+)(?:\.(\d+))?', banner)
    if not match:
        raise JavaNotFound(f"Could not read the Java version from {banner!r}. {HOW_TO_FIX}")
    major = int(match.group(1))
    return int(match.group(2)) if major == 1 else major


def require_supported_java() -> int:
    major = java_major_version()
    if major not in SUPPORTED_MAJORS:
        raise JavaNotFound(
            f"Java {major} found, but Spark 4.1 here needs Java 17 or 21. {HOW_TO_FIX}"
        )
    return major


if __name__ == "__main__":
    try:
        # On stderr: `make sql Q=... > out.csv` must get the CSV alone on stdout.
        print(f"Java {require_supported_java()} found", file=sys.stderr)
    except JavaNotFound as error:
        raise SystemExit(f"error: {error}") from None
