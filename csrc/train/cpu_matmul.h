#pragma once
// Which library multiplies fp32 matrices on the CPU for nairrcore's layers.
// torch sends fp32 products to its BLAS (MKL in the PyPI wheels), which takes
// an AVX2 path on AMD processors; oneDNN, also inside torch, JIT-compiles
// AVX-512 kernels on any vendor and measured about twice as fast on a 2-core
// EPYC (bench/forecasting.py records both). Same fp32 arithmetic either way.
#include <ATen/core/Tensor.h>

#include <string>

namespace nairrcore::train {

enum class CpuMatmul { OneDnn, Blas };

// oneDNN on x86-64 when torch was built with it, else the BLAS;
// NAIRRCORE_CPU_MATMUL=blas|onednn overrides the default, set_cpu_matmul() both.
CpuMatmul cpu_matmul();
void set_cpu_matmul(CpuMatmul backend);
CpuMatmul parse_cpu_matmul(const std::string& name);
std::string cpu_matmul_name(CpuMatmul backend);

// out = a @ b for 2-D fp32 CPU tensors; a and b may be transposed views.
void cpu_matmul_into(const at::Tensor& a, const at::Tensor& b, at::Tensor out);

}  // namespace nairrcore::train
