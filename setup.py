"""The ptrain Python package, built by CMake: the extension module (python/module.cpp) links the
same C++ library the command line does. The version is CMakeLists.txt's, the one source of it.

    python3 -m venv --system-site-packages venv && venv/bin/pip install --no-build-isolation .
"""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


def project_version():
    text = (ROOT / "CMakeLists.txt").read_text()
    return re.search(r"project\(ptrain VERSION ([0-9.]+)", text).group(1)


class CMakeExtension(Extension):
    def __init__(self, name):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    """Configures and builds the _ptrain target alone (no tests, benchmarks or MPI), for the
    interpreter running pip, tuned for this machine's CPU as the command line is."""

    def build_extension(self, ext):
        build = Path(self.build_temp).resolve() / "cmake"
        configure = ["cmake", "-S", str(ROOT), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
                     "-DPTRAIN_BUILD_TESTS=OFF", "-DPTRAIN_BUILD_PERF=OFF", "-DPTRAIN_MPI=OFF", "-DPTRAIN_PYTHON=ON",
                     f"-DPYTHON_EXECUTABLE={sys.executable}"]
        subprocess.run(configure, check=True)
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 1))
        subprocess.run(["cmake", "--build", str(build), "--target", "_ptrain", "-j", jobs], check=True)
        built = next((build / "python" / "ptrain").glob("_ptrain*.so"))
        target = Path(self.get_ext_fullpath(ext.name))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built, target)


setup(
    version=project_version(),
    package_dir={"": "python"},
    packages=["ptrain"],
    ext_modules=[CMakeExtension("ptrain._ptrain")],
    cmdclass={"build_ext": CMakeBuild},
    options={"build": {"build_base": "build/pip"}, "egg_info": {"egg_base": "build/pip"}},
    zip_safe=False,
)
