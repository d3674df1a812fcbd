"""`pip install ./python` with the standard library only (no PyTorch, no network): the build backend's wheel
holds the package's modules, records the clone it was built from, and lists every file with its hash; pip,
where the interpreter has it, installs the package offline from the folder.

    python3 -m unittest discover -s python/tests -p "test_*.py"      (a step of .ci/run)
"""

import base64
import hashlib
import importlib.util
import os
import subprocess
import sys
import tempfile
import unittest
import zipfile

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
PYTHON = os.path.join(ROOT, "python")
sys.path.insert(0, os.path.join(PYTHON, "build_backend"))
import lessismore_build  # noqa: E402

MODULES = sorted(f for f in os.listdir(os.path.join(PYTHON, "lessismore")) if f.endswith(".py"))


def installed_repository(path: str) -> str:
    spec = importlib.util.spec_from_file_location("installed", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.REPOSITORY


class WheelTest(unittest.TestCase):
    def test_wheel_holds_the_package_the_clone_and_a_true_record(self):
        with tempfile.TemporaryDirectory() as out:
            name = lessismore_build.build_wheel(out)
            self.assertRegex(name, r"^lessismore-\d+\.\d+\.\d+-py3-none-any\.whl$")
            with zipfile.ZipFile(os.path.join(out, name)) as z:
                names = z.namelist()
                for module in MODULES + ["_installed.py"]:
                    self.assertIn(f"lessismore/{module}", names)
                dist = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
                self.assertIn("Requires-Dist: torch", z.read(f"{dist}/METADATA").decode())
                z.extract("lessismore/_installed.py", out)
                record = z.read(f"{dist}/RECORD").decode().splitlines()
                for line in record:
                    path, digest, size = line.split(",")
                    if path.endswith("RECORD"):
                        continue
                    data = z.read(path)
                    self.assertEqual(int(size), len(data), path)
                    self.assertEqual(digest, "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode(), path)
                self.assertEqual(len(record), len(names), "one RECORD line per file")
            self.assertEqual(installed_repository(os.path.join(out, "lessismore", "_installed.py")), ROOT)

    @unittest.skipIf(subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True).returncode != 0, "this python3 has no pip")
    def test_pip_installs_the_folder_offline(self):
        with tempfile.TemporaryDirectory() as target:
            run = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--disable-pip-version-check", "--target", target, PYTHON],
                                 capture_output=True, text=True, timeout=300)
            self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
            self.assertEqual(sorted(f for f in os.listdir(os.path.join(target, "lessismore")) if f.endswith(".py")), sorted(MODULES + ["_installed.py"]))
            self.assertEqual(installed_repository(os.path.join(target, "lessismore", "_installed.py")), ROOT)


if __name__ == "__main__":
    unittest.main()
