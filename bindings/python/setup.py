"""Only what pyproject.toml cannot say: when the shared library was copied into the package
(supportbot/libsupportbot.so.2), the wheel carries a binary, so it is tagged for this platform
(py3-none-<platform>) rather than as pure Python."""

import os

from setuptools import setup
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))
CARRIES_LIBRARY = any(name.startswith("libsupportbot.so")
                      for name in os.listdir(os.path.join(HERE, "supportbot")))


class DistributionWithLibrary(Distribution):
    def has_ext_modules(self):
        return True  # a binary inside: platform-specific, installed as platlib


options = {}
if CARRIES_LIBRARY:
    from wheel.bdist_wheel import bdist_wheel

    class bdist_wheel_with_library(bdist_wheel):  # noqa: N801 - setuptools' naming
        def get_tag(self):
            # Any Python 3 (nothing is compiled against Python), this platform only.
            _, _, platform = super().get_tag()
            return "py3", "none", platform

    options = {"distclass": DistributionWithLibrary,
               "cmdclass": {"bdist_wheel": bdist_wheel_with_library}}

setup(**options)
