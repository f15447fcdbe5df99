#pragma once
// LayerNorm -> GELU (exact, erf) -> dropout, the tail of every block of the
// forecasting MLP, as one pass over each row forward and one backward, for
// fp32 on the CPU. Unfused, the three ops read and write the [batch, width]
// activation five times forward and six times backward, and at batch 8192 on
// two cores those passes took 40% of the step. The fused backward recomputes
// the normalised values and the GELU input from the saved block input and
// per-row statistics, and the dropout mask from its key. Same parameters and
// results as the three modules (to fp32 rounding); same draw of the dropout key.
#include <ATen/core/Tensor.h>

namespace nairrcore::train {

// z: fp32 CPU rows (cpu_fp32_rows()), [rows, width]; gamma, beta: [width]. p = 0 or !training: no dropout.
at::Tensor norm_gelu_dropout(const at::Tensor& z, const at::Tensor& gamma, const at::Tensor& beta, double eps,
                             double p, bool training);

// The same block on a GPU (norm_gelu_dropout.cu): float32, bf16 or fp16 rows
// of up to 1024 columns, statistics in fp32, output in the input's dtype; the
// dropout key is drawn from torch's CUDA generator in a graph-safe way.
bool norm_gelu_dropout_cuda_available();  // false in a build without CUDA
bool norm_gelu_dropout_cuda_fits(const at::Tensor& z);
at::Tensor norm_gelu_dropout_cuda(const at::Tensor& z, const at::Tensor& gamma, const at::Tensor& beta, double eps,
                                  double p, bool training);

}  // namespace nairrcore::train
