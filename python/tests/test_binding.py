"""The generated ctypes binding against the generated C header, with the standard library only (no PyTorch, no
GPU, no built library): every function of lim.h is in the binding with the same argument and return types,
and every keyword a binding method takes names an argument of its C function (and the other way round).

    python3 -m unittest discover -s python/tests -p "test_*.py"      (a step of .ci/run)

(test/abi/host_checks.test.ts then calls the binding against a host build of the argument checks.)
"""

import ctypes
import inspect
import os
import re
import sys
import unittest

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "generated", "bindings"))
import lim_abi  # noqa: E402

# The C types of lim.h and the ctypes the binding must give them; pointers to data are void*.
CTYPES = {
    "int32_t": ctypes.c_int32, "int": ctypes.c_int, "lim_dtype": ctypes.c_int, "int64_t": ctypes.c_int64, "uint32_t": ctypes.c_uint32,
    "float": ctypes.c_float, "size_t": ctypes.c_size_t, "size_t*": ctypes.POINTER(ctypes.c_size_t), "const char*": ctypes.c_char_p,
    "cudaStream_t": ctypes.c_void_p,
}
# Arguments a method takes from another (a workspace's size from the buffer) or not at all (the output of a size query).
DERIVED = {"workspace_bytes", "bytes"}


def declarations():
    """name -> (return type, [(C type, argument name)]) of every function lim.h declares."""
    header = open(os.path.join(ROOT, "generated", "include", "lim.h")).read()
    found = {}
    for m in re.finditer(r"^(int|const char\*) (lim_\w+)\(([^)]*)\);", header, re.M):
        params = [] if m.group(3).strip() == "void" else [p.strip() for p in m.group(3).split(",")]
        found[m.group(2)] = (m.group(1), [tuple(p.rsplit(None, 1)) if " " in p else (p, "") for p in params])
    return found


def ctype_of(c_type: str):
    if c_type in CTYPES:
        return CTYPES[c_type]
    if c_type.endswith("*"):
        return ctypes.c_void_p
    raise AssertionError(f"lim.h uses a C type the test does not know: {c_type}")


class BindingMatchesHeader(unittest.TestCase):
    header = declarations()

    def test_the_header_declares_functions(self):
        self.assertGreater(len(self.header), 20)
        self.assertIn("lim_select_lessismore_local_keys", self.header)

    def test_same_functions(self):
        self.assertEqual(sorted(lim_abi.SIGNATURES), sorted(self.header))

    def test_argument_and_return_types(self):
        for name, (returns, params) in self.header.items():
            restype, argtypes = lim_abi.SIGNATURES[name]
            with self.subTest(function=name):
                self.assertIs(restype, ctypes.c_char_p if returns == "const char*" else ctypes.c_int)
                self.assertEqual([ctype_of(" ".join(p[0].split())) for p in params], list(argtypes))

    def test_keywords_name_the_c_arguments(self):
        for name, (_returns, params) in self.header.items():
            if not params:
                continue  # queries without arguments (lim_last_error, lim_abi_version, ...) are called through .lib
            method = getattr(lim_abi.LimLibrary, name[len("lim_"):], None)
            with self.subTest(function=name):
                self.assertIsNotNone(method, f"LimLibrary has no method for {name}")
                keywords = [p for p, v in inspect.signature(method).parameters.items() if v.kind is inspect.Parameter.KEYWORD_ONLY]
                c_names = [p[1] for p in params]
                self.assertEqual([k for k in keywords if k not in c_names], [], f"keywords of {name} that lim.h does not name")
                self.assertEqual([c for c in c_names if c not in keywords and c not in DERIVED], [], f"arguments of {name} the binding never takes")


if __name__ == "__main__":
    unittest.main()
