"""A PEP 517 build backend for the supportbot package, written with the standard library alone.

pip builds a package in an isolated environment into which it installs the backend's
requirements; with no network it cannot fetch setuptools there, and `pip install bindings/python`
would fail. This backend needs nothing (`requires = []`, found through `backend-path`), so the
plain command works offline. The package is pure Python (ctypes); when libsupportbot.so.N was
copied into supportbot/ first, the wheel carries it and is tagged for this platform
(py3-none-<platform>) instead of py3-none-any.
"""

import base64
import hashlib
import io
import os
import sysconfig
import tarfile
import zipfile

NAME = "supportbot"
VERSION = "0.2.0"
SUMMARY = "Python bindings (ctypes) for libsupportbot, an embeddable AI customer-support bot"
HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE_DIR = os.path.join(HERE, NAME)
# What the package ships: its modules, the typing marker, and the library when copied in.
SHIPPED = (".py", "py.typed")


def _package_files():
    files = []
    for name in sorted(os.listdir(PACKAGE_DIR)):
        path = os.path.join(PACKAGE_DIR, name)
        if os.path.isfile(path) and (name.endswith(SHIPPED) or name.startswith("libsupportbot.so")):
            files.append((f"{NAME}/{name}", path))
    return files


def _carries_library():
    return any(arc.startswith(f"{NAME}/libsupportbot.so") for arc, _ in _package_files())


def _tag():
    if not _carries_library():
        return "py3-none-any"
    return "py3-none-" + sysconfig.get_platform().replace("-", "_").replace(".", "_")


def _metadata():
    with open(os.path.join(HERE, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    return (f"Metadata-Version: 2.1\nName: {NAME}\nVersion: {VERSION}\nSummary: {SUMMARY}\n"
            "Requires-Python: >=3.8\nClassifier: Programming Language :: Python :: 3\n"
            "Classifier: Operating System :: POSIX :: Linux\nClassifier: Typing :: Typed\n"
            f"Description-Content-Type: text/markdown\n\n{readme}")


def _record_line(arcname, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{arcname},sha256={digest},{len(data)}"


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    tag = _tag()
    pure = "true" if tag.endswith("-any") else "false"
    dist_info = f"{NAME}-{VERSION}.dist-info"
    entries = []
    for arcname, path in _package_files():
        with open(path, "rb") as f:
            entries.append((arcname, f.read()))
    entries.append((f"{dist_info}/METADATA", _metadata().encode()))
    wheel = f"Wheel-Version: 1.0\nGenerator: supportbot _build_backend\nRoot-Is-Purelib: {pure}\n"
    entries.append((f"{dist_info}/WHEEL", f"{wheel}Tag: {tag}\n".encode()))
    record = [_record_line(a, d) for a, d in entries] + [f"{dist_info}/RECORD,,"]
    entries.append((f"{dist_info}/RECORD", ("\n".join(record) + "\n").encode()))
    filename = f"{NAME}-{VERSION}-{tag}.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w",
                         zipfile.ZIP_DEFLATED) as whl:
        for arcname, data in entries:
            info = zipfile.ZipInfo(arcname, date_time=(1980, 1, 1, 0, 0, 0))
            # Regular files, rw-r--r-- (the library rwxr-xr-x).
            mode = 0o755 if ".so" in arcname else 0o644
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            whl.writestr(info, data)
    return filename


def build_sdist(sdist_directory, config_settings=None):
    base = f"{NAME}-{VERSION}"
    filename = f"{base}.tar.gz"
    with tarfile.open(os.path.join(sdist_directory, filename), "w:gz") as tar:
        for name in ("pyproject.toml", "README.md", "_build_backend.py"):
            tar.add(os.path.join(HERE, name), arcname=f"{base}/{name}")
        for arcname, path in _package_files():
            if ".so" not in arcname:  # a source distribution carries no binary
                tar.add(path, arcname=f"{base}/{arcname}")
        pkg_info = _metadata().encode()
        info = tarfile.TarInfo(f"{base}/PKG-INFO")
        info.size = len(pkg_info)
        tar.addfile(info, io.BytesIO(pkg_info))
    return filename
