import os
import shutil
import subprocess
import sys
from pathlib import Path

import torch

import nairrcore


def test_build_info_reports_what_was_compiled():
    info = nairrcore.build_info()
    assert info["torch_version"] == torch.__version__
    assert info["version"] == nairrcore.__version__
    assert set(info) >= {"cuda", "cuda_version", "cuda_architectures", "nccl", "openmp", "compiler"}
    if shutil.which("nvcc") and torch.version.cuda:
        assert info["cuda"] is True
        assert "9.0" in info["cuda_architectures"]


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


def test_cli_help_and_errors():
    out = subprocess.run([sys.executable, "-m", "nairrcore", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "run" in out.stdout and "data" in out.stdout
    out = subprocess.run([sys.executable, "-m", "nairrcore", "run", "x.ipynb", "--platform", "moon"],
                         capture_output=True, text=True)
    assert out.returncode == 2 and "unknown platform 'moon'" in out.stderr


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
