#pragma once
// (bias ->) LayerNorm -> GELU (exact, erf) -> dropout, the tail of every
// block of the forecasting MLP, as one pass over each row forward and one
// backward, for fp32 on the CPU. Unfused, the three ops read and write the
// [batch, width] activation five times forward and six times backward, and at
// batch 8192 on two cores those passes took 40% of the step. The preceding
// linear's bias is added here as rows are read and its gradient summed in the
// same backward pass, which spares that linear a pass each way. When a
// backward will follow, forward also keeps the GELU's derivative times the
// dropout scale ([batch, width] more memory), so backward is a few
// multiply-adds per element: it recomputes the normalised values from the
// saved block input and per-row statistics, and writes the input gradient over
// the slope (so one forward takes one backward; a second raises). GELU's parts
// come from train/gelu_parts.h, as on the GPU. Same parameters and results as
// the separate modules (to fp32 rounding); same draw of the dropout key.
#include <ATen/core/Tensor.h>

namespace nairrcore::train {

// z: fp32 CPU rows (cpu_fp32_rows()), [rows, width]; gamma, beta and bias (optional): [width].
// p = 0 or !training: no dropout.
at::Tensor norm_gelu_dropout(const at::Tensor& z, const at::Tensor& gamma, const at::Tensor& beta, double eps,
                             double p, bool training, const at::Tensor& bias = {});

// Whether a backward will follow a block over these inputs (grad mode on and
// one of them requiring grad): only then does forward keep the GELU's slope.
bool norm_gelu_dropout_backward_follows(const at::Tensor& z, const at::Tensor& bias, const at::Tensor& gamma,
                                        const at::Tensor& beta);

// The same block on a GPU (norm_gelu_dropout.cu): float32, bf16 or fp16 rows
// of up to 1024 columns, statistics in fp32, output in the input's dtype; the
// bias (float32) is added and its gradient summed there too, and the slope
// kept for backward is in the rows' dtype; the dropout key is drawn from
// torch's CUDA generator in a graph-safe way.
bool norm_gelu_dropout_cuda_available();  // false in a build without CUDA
bool norm_gelu_dropout_cuda_fits(const at::Tensor& z);
at::Tensor norm_gelu_dropout_cuda(const at::Tensor& z, const at::Tensor& gamma, const at::Tensor& beta, double eps,
                                  double p, bool training, const at::Tensor& bias = {});

}  // namespace nairrcore::train
