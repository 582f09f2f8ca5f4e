"""Finding libsupportbot: SUPPORTBOT_LIBRARY, next to the package, the system's library paths,
and the clear errors when it is missing or of another ABI. Each case imports the package in a
fresh interpreter."""

import ctypes.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import supportbot
from conftest import PACKAGE_ROOT

LIB = Path(supportbot.library_path).resolve()


def run_import(env_overrides, cwd, path_entry):
    env = {k: v for k, v in os.environ.items()
           if k not in ("SUPPORTBOT_LIBRARY", "LD_LIBRARY_PATH", "PYTHONPATH")}
    env.update(env_overrides)
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import supportbot; "
            "print(supportbot.library_path); print(supportbot.library_abi_version())")
    return subprocess.run([sys.executable, "-c", code, str(path_entry)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def package_copy(tmp_path):
    """The package alone (no library inside) in a temporary folder."""
    dst = tmp_path / "pkg"
    shutil.copytree(PACKAGE_ROOT / "supportbot", dst / "supportbot",
                    ignore=shutil.ignore_patterns("libsupportbot.so*", "__pycache__"))
    return dst


def test_from_environment_variable(package_copy, tmp_path):
    r = run_import({"SUPPORTBOT_LIBRARY": str(LIB)}, tmp_path, package_copy)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [str(LIB), "2"]


def test_environment_variable_to_a_missing_file(package_copy, tmp_path):
    r = run_import({"SUPPORTBOT_LIBRARY": str(tmp_path / "nope.so")}, tmp_path, package_copy)
    assert r.returncode != 0
    assert "LibraryError" in r.stderr and "SUPPORTBOT_LIBRARY" in r.stderr


def test_next_to_the_package(package_copy, tmp_path):
    shutil.copy(LIB, package_copy / "supportbot" / "libsupportbot.so.2")
    r = run_import({}, tmp_path, package_copy)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[0] == str(package_copy / "supportbot" / "libsupportbot.so.2")


def test_system_library_paths(package_copy, tmp_path):
    libdir = tmp_path / "lib"
    libdir.mkdir()
    shutil.copy(LIB, libdir / "libsupportbot.so.2")
    r = run_import({"LD_LIBRARY_PATH": str(libdir)}, tmp_path, package_copy)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["libsupportbot.so.2", "2"]


def test_not_found(package_copy, tmp_path):
    if ctypes.util.find_library("supportbot"):
        pytest.skip("libsupportbot is installed on this machine")
    r = run_import({}, tmp_path, package_copy)
    assert r.returncode != 0
    assert "cannot find libsupportbot.so.2" in r.stderr and "SUPPORTBOT_LIBRARY" in r.stderr


def test_other_abi_version(package_copy, tmp_path):
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.fail("a C compiler is needed to build the fake library")
    src = tmp_path / "fake.c"
    src.write_text("int sb_abi_version(void) { return 99; }\n")
    fake = tmp_path / "libsupportbot.so.99"
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(fake), str(src)], check=True)
    r = run_import({"SUPPORTBOT_LIBRARY": str(fake)}, tmp_path, package_copy)
    assert r.returncode != 0
    assert "LibraryError" in r.stderr
    assert "ABI version 99" in r.stderr and "ABI version 2" in r.stderr


def test_not_libsupportbot(package_copy, tmp_path):
    other = ctypes.util.find_library("m")
    path = None
    for d in ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib"):
        if other and os.path.exists(os.path.join(d, other)):
            path = os.path.join(d, other)
    if path is None:
        pytest.skip("no libm to stand in for another library")
    r = run_import({"SUPPORTBOT_LIBRARY": path}, tmp_path, package_copy)
    assert r.returncode != 0 and "is not libsupportbot" in r.stderr
