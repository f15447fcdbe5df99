#pragma once
// Which library multiplies fp32 matrices on the CPU for nairrcore's layers.
// torch sends fp32 products to its BLAS (MKL in the PyPI wheels), which takes
// an AVX2 path on AMD processors; oneDNN, also inside torch, JIT-compiles
// AVX-512 kernels on any vendor and measured about twice as fast on a 2-core
// EPYC (bench/forecasting.py records both). Same fp32 arithmetic either way.
#include <ATen/core/Tensor.h>

#include <string>

#include "compat/torch_compat.h"

namespace nairrcore::train {

enum class CpuMatmul { OneDnn, Blas };

// oneDNN on x86-64 when torch was built with it, else the BLAS;
// NAIRRCORE_CPU_MATMUL=blas|onednn overrides the default, set_cpu_matmul() both.
CpuMatmul cpu_matmul();
void set_cpu_matmul(CpuMatmul backend);
CpuMatmul parse_cpu_matmul(const std::string& name);
std::string cpu_matmul_name(CpuMatmul backend);

// a @ b for 2-D fp32 CPU tensors [m, k] and [k, n] (ConfigError otherwise);
// a and b may be transposed views.
at::Tensor cpu_matmul_product(const at::Tensor& a, const at::Tensor& b);

// Whether x is what nairrcore's CPU fast paths take: 2-D fp32 rows on the CPU,
// with autocast off.
bool cpu_fp32_rows(const at::Tensor& x);

}  // namespace nairrcore::train
