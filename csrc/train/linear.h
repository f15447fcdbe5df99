#pragma once
// torch's Linear (same options, initialisation and parameter names) whose fp32
// CPU products, forward and backward, go through cpu_matmul_product(). Anywhere
// else (GPU, autocast, other dtypes) it is torch's Linear unchanged.
#include <torch/nn/modules/linear.h>

namespace nairrcore::train {

class FastLinearImpl : public torch::nn::LinearImpl {
 public:
  FastLinearImpl(int64_t in_features, int64_t out_features);
  at::Tensor forward(const at::Tensor& x);
  // x @ weight.T, the bias left to the caller (the fused CPU block adds it).
  at::Tensor forward_without_bias(const at::Tensor& x);
};
TORCH_MODULE(FastLinear);

// x @ weight.T + bias through cpu_matmul_product(), differentiable (for tests).
at::Tensor cpu_linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias);

}  // namespace nairrcore::train
