#pragma once
// Which library multiplies fp32 matrices on the CPU for nairrcore's layers:
// oneDNN (JIT-compiled AVX-512 kernels on any vendor) or torch's BLAS (MKL in
// the PyPI wheels). They rank differently by processor; Python measures both
// and sets the faster (python/nairrcore/training/cpu_library.py). Same fp32
// arithmetic either way.
#include <ATen/core/Tensor.h>

#include <string>

#include "compat/torch_compat.h"

namespace nairrcore::train {

enum class CpuMatmul { OneDnn, Blas };

// Starts as oneDNN on x86-64 when torch was built with it, else the BLAS.
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
