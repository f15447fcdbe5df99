#pragma once
// The forecasting MLP: depth x [Linear(width) -> LayerNorm -> GELU ->
// Dropout(p)] -> Linear(outputs). Parameter names match
// nairrcore.forecasting.model.MLP so state dicts move between C++ and Python.
// Each LayerNorm -> GELU -> Dropout runs as one fused op: on the CPU in fp32,
// and on a GPU for widths up to 1024 (unless fused_blocks is off).
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/normalization.h>

#include <vector>

#include "train/dropout.h"
#include "train/linear.h"

namespace nairrcore::train {

// Every value comes from Python's ForecastConfig (settings.to_core); no defaults here.
struct MlpConfig {
  int64_t inputs{};
  int64_t width{};
  int64_t depth{};
  int64_t outputs{};
  double dropout{};
  double norm_eps{};  // LayerNorm
  bool fused_blocks{};  // GPU: the fused norm-GELU-dropout kernels
  void validate() const;
};

class MlpImpl : public torch::nn::Module {
 public:
  explicit MlpImpl(const MlpConfig& config);
  at::Tensor forward(const at::Tensor& x);
  int64_t num_parameters() const;

 private:
  at::Tensor fused_forward(const at::Tensor& x);

  torch::nn::Sequential net_{nullptr};
  // The same modules as net_ holds, for the fused CPU path.
  std::vector<FastLinear> linears_;
  std::vector<torch::nn::LayerNorm> norms_;
  std::vector<FastDropout> dropouts_;
  bool fused_gpu_ = true;
};
TORCH_MODULE(Mlp);

}  // namespace nairrcore::train
