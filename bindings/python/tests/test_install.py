"""`pip install` of bindings/python, offline, into a virtual environment, carrying the shared
library inside the package; the installed package then runs part of this suite."""

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import supportbot
from conftest import HERE, PACKAGE_ROOT


def test_pip_install_offline_with_the_library_inside(tmp_path):
    # A clean copy of the source.
    src = tmp_path / "src"
    shutil.copytree(PACKAGE_ROOT, src, ignore=shutil.ignore_patterns(
        "tests", "build", "*.egg-info", "__pycache__", "libsupportbot.so*"))
    shutil.copy(Path(supportbot.library_path).resolve(), src / "supportbot" / "libsupportbot.so.2")

    env_dir = tmp_path / "venv"
    # The system's pip serves the environment (and pytest, below). pip builds the package in an
    # isolated environment, as a plain `pip install` does: the in-tree backend needs nothing
    # there, so nothing is downloaded (PIP_NO_INDEX: nothing could be).
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    env = {k: v for k, v in os.environ.items()
           if k not in ("SUPPORTBOT_LIBRARY", "LD_LIBRARY_PATH", "PYTHONPATH")}
    env["PIP_NO_INDEX"] = "1"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    r = subprocess.run([str(python), "-m", "pip", "install", "--no-deps", str(src)], env=env, capture_output=True, text=True,
                       timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr

    r = subprocess.run([str(python), "-c",
                        "import supportbot; print(supportbot.__file__); "
                        "print(supportbot.library_path)"],
                       env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    package_file, library = r.stdout.split()
    installed = Path(package_file).parent
    assert installed.is_relative_to(env_dir) and installed.name == "supportbot"
    assert Path(library) == installed / "libsupportbot.so.2"
    assert (installed / "py.typed").exists()
    # A binary inside: the wheel pip built was tagged for this platform, not as pure Python.
    wheel_info = next(env_dir.glob("lib/python3*/site-packages/supportbot-*.dist-info/WHEEL"))
    wheel = wheel_info.read_text()
    assert "Root-Is-Purelib: false" in wheel and "Tag: py3-none-linux_" in wheel

    # The installed package passes the FAQ tests.
    env["SUPPORTBOT_TEST_INSTALLED"] = "1"
    r = subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        str(HERE / "test_faqs.py")],
                       env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert " passed" in r.stdout


def test_wheel_without_the_library_is_pure_python(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(PACKAGE_ROOT, src, ignore=shutil.ignore_patterns(
        "tests", "build", "*.egg-info", "__pycache__", "libsupportbot.so*"))
    env = dict(os.environ, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                        "-w", str(tmp_path / "dist"), str(src)], env=env, capture_output=True,
                       text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert [p.name for p in (tmp_path / "dist").iterdir()] == [
        f"supportbot-{supportbot.__version__}-py3-none-any.whl"]
