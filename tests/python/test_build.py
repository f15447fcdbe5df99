import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import nairrcore

# Each test starts processes that import torch again, run notebooks, build, or submit jobs.
pytestmark = pytest.mark.slow


def test_build_info_reports_what_was_compiled():
    info = nairrcore.build_info()
    assert info["torch_version"] == torch.__version__
    assert info["version"] == nairrcore.__version__
    assert set(info) >= {"cuda", "cuda_version", "cuda_architectures", "nccl", "openmp", "compiler"}
    nvcc_major = _nvcc_major()
    if nvcc_major and nvcc_major == (torch.version.cuda or "").split(".")[0]:
        # a toolkit that can build for this torch is used by default
        assert info["cuda"] is True
        assert "9.0" in info["cuda_architectures"]


def _nvcc_major() -> str:
    if not shutil.which("nvcc"):
        return ""
    out = subprocess.run(["nvcc", "--version"], capture_output=True, text=True).stdout
    release = re.search(r"release (\d+)\.", out)
    return release.group(1) if release else ""


def test_core_built_for_another_torch_is_refused_with_rebuild_hint(tmp_path):
    pkg = Path(nairrcore.__file__).parent
    copy = tmp_path / "nairrcore"
    shutil.copytree(pkg, copy, symlinks=False, ignore=shutil.ignore_patterns("__pycache__"))
    cfg = copy / "_build_config.py"
    cfg.write_text(cfg.read_text().replace(torch.__version__, "2.4.0+cpu"))
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", "import nairrcore"], capture_output=True, text=True, env=env)
    assert out.returncode != 0
    assert "ImportError" in out.stderr
    assert "built against torch 2.4.0+cpu" in out.stderr and torch.__version__ in out.stderr
    assert "--no-build-isolation" in out.stderr




def test_the_cores_cpu_kernels_split_work_over_torchs_intra_op_threads():
    # at::parallel_for (the fused CPU kernels use it) is inline: with torch's OpenMP backend
    # it runs on one thread in code compiled without OpenMP, whatever torch.get_num_threads() says.
    from nairrcore._native import core

    before = torch.get_num_threads()
    try:
        for n in sorted({1, 2, before}):
            torch.set_num_threads(n)
            assert core.intra_op_threads_used(64) == n
    finally:
        torch.set_num_threads(before)


def _configure_command(build_dir: Path) -> list[str]:
    root = Path(__file__).resolve().parents[2]
    return ["cmake", "-S", str(root), "-B", str(build_dir), f"-DPython3_EXECUTABLE={sys.executable}"]


def test_a_cuda_torch_configures_on_a_machine_without_the_cuda_toolkit(tmp_path):
    # PyPI's default torch is a CUDA build; torch's own CMake config refuses it without a toolkit
    # (a laptop), so the CPU-only build must not depend on that config.
    if not torch.version.cuda or not shutil.which("cmake"):
        pytest.skip("needs a CUDA build of torch and cmake")
    command = _configure_command(tmp_path / "build")
    nvcc = shutil.which("nvcc")
    if nvcc:
        # hide the toolkit in a private mount namespace: an empty folder over its root
        toolkit = Path(nvcc).resolve().parents[1]
        if os.geteuid() != 0 or not shutil.which("unshare") or str(toolkit) in ("/", "/usr"):
            pytest.skip(f"cannot hide the CUDA toolkit at {toolkit} here (needs root and unshare)")
        empty = tmp_path / "empty"
        empty.mkdir()
        script = ('mount --bind "$1" "$2" || exit 3; shift 2\n'
                  'if nvcc --version >/dev/null 2>&1; then echo "the toolkit is still visible" >&2; exit 3; fi\n'
                  'exec "$@"')
        command = ["unshare", "-m", "sh", "-c", script, "sh", str(empty), str(toolkit), *command]
    out = subprocess.run(command, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "no nvcc found; building without CUDA kernels" in out.stdout
    cache = (tmp_path / "build" / "CMakeCache.txt").read_text()
    assert "Caffe2_DIR" not in cache  # torch's CMake config was not read


def test_a_build_folder_made_for_another_torch_forgets_that_torchs_paths(tmp_path):
    # scripts/sanitize.sh reuses build/sanitize through plain CMake (scikit-build-core clears its own
    # folder for a new venv): a new venv (a torch upgrade) must not link the old venv's torch
    if not shutil.which("cmake"):
        pytest.skip("needs cmake")
    old = tmp_path / "old-venv" / "torch"
    command = _configure_command(tmp_path / "build") + [
        "-DNAIRRCORE_WITH_CUDA=OFF",
        f"-DNAIRRCORE_TORCH_SEEN={old}",
        f"-DTORCH_PYTHON_LIBRARY={old}/lib/libtorch_python.so",
        f"-DTORCH_c10_LIBRARY={old}/lib/libc10.so"]
    out = subprocess.run(command, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert f"configured for the torch at {old}; forgetting its paths" in out.stdout
    cache = (tmp_path / "build" / "CMakeCache.txt").read_text()
    assert str(old) not in cache
    assert "NAIRRCORE_WITH_CUDA:BOOL=OFF" in cache  # the settings unrelated to torch are kept
    torch_lib = Path(torch.__file__).parent / "lib"
    assert f"TORCH_PYTHON_LIBRARY:FILEPATH={torch_lib}/libtorch_python.so" in cache
    assert f"TORCH_c10_LIBRARY:FILEPATH={torch_lib}/libc10.so" in cache
