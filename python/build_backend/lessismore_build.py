"""The build backend of `pip install ./python` (PEP 517), on the standard library alone, so that it installs
offline and without setuptools.

It builds a pure-Python wheel of the `lessismore` package that records the repository it was built from
(`lessismore/_installed.py`): the installed package loads the generated ctypes binding
(generated/bindings/lim_abi.py) and the built library (build/liblim.so, or $LIM_LIBRARY) from that clone, so
regenerate and rebuild there, and reinstall after moving it. The version is the toolkit's (package.json).
"""

import base64
import hashlib
import json
import os
import zipfile

PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPOSITORY = os.path.dirname(PYTHON_DIR)
NAME = "lessismore"
SUMMARY = "LessIsMore's sparse-attention kernels (liblim) as PyTorch operators and a transformers attention backend"


def _version() -> str:
    with open(os.path.join(REPOSITORY, "package.json"), encoding="utf-8") as f:
        return json.load(f)["version"]


def _metadata(version: str) -> str:
    return (f"Metadata-Version: 2.1\nName: {NAME}\nVersion: {version}\nSummary: {SUMMARY}\n"
            "Requires-Python: >=3.9\nRequires-Dist: torch>=2.4\nProvides-Extra: transformers\n"
            "Requires-Dist: transformers>=4.48; extra == \"transformers\"\n")


def _files(version: str) -> dict:
    """Archive path -> bytes: the package's modules, the clone's location, and the dist-info."""
    files = {}
    package = os.path.join(PYTHON_DIR, NAME)
    for name in sorted(os.listdir(package)):
        if name.endswith(".py"):
            with open(os.path.join(package, name), "rb") as f:
                files[f"{NAME}/{name}"] = f.read()
    files[f"{NAME}/_installed.py"] = (
        '"""Written by python/build_backend when this copy of the package was built: the clone it comes from."""\n\n'
        f"REPOSITORY = {REPOSITORY!r}\n").encode()
    dist = f"{NAME}-{version}.dist-info"
    files[f"{dist}/METADATA"] = _metadata(version).encode()
    files[f"{dist}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: lessismore_build\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    return files


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def get_requires_for_build_wheel(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    version = _version()
    dist = f"{NAME}-{version}.dist-info"
    os.makedirs(os.path.join(metadata_directory, dist), exist_ok=True)
    with open(os.path.join(metadata_directory, dist, "METADATA"), "w", encoding="utf-8") as f:
        f.write(_metadata(version))
    return dist


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    version = _version()
    files = _files(version)
    record = f"{NAME}-{version}.dist-info/RECORD"
    lines = [_record_line(path, data) for path, data in files.items()] + [f"{record},,"]
    wheel = f"{NAME}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, wheel), "w", zipfile.ZIP_DEFLATED) as z:
        for path, data in files.items():
            z.writestr(path, data)
        z.writestr(record, "\n".join(lines) + "\n")
    return wheel
