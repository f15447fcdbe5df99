#include "train/mlp.h"

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/normalization.h>

#include "common/errors.h"
#include "train/dropout.h"
#include "train/linear.h"

namespace nairrcore::train {

void MlpConfig::validate() const {
  NAIRR_CHECK_ARG(inputs >= 1, "inputs: expected >= 1, got " + std::to_string(inputs));
  NAIRR_CHECK_ARG(width >= 1, "width: expected >= 1, got " + std::to_string(width));
  NAIRR_CHECK_ARG(depth >= 1, "depth: expected >= 1, got " + std::to_string(depth));
  NAIRR_CHECK_ARG(dropout >= 0 && dropout < 1, "dropout: expected 0 <= p < 1, got " + std::to_string(dropout));
}

MlpImpl::MlpImpl(const MlpConfig& c) {
  c.validate();
  torch::nn::Sequential net;
  int64_t in = c.inputs;
  for (int64_t i = 0; i < c.depth; ++i) {
    net->push_back(FastLinear(in, c.width));
    net->push_back(torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.width})));
    net->push_back(torch::nn::GELU());
    net->push_back(FastDropout(c.dropout));
    in = c.width;
  }
  net->push_back(FastLinear(in, c.outputs));
  net_ = register_module("net", net);
}

at::Tensor MlpImpl::forward(const at::Tensor& x) { return net_->forward(x); }

int64_t MlpImpl::num_parameters() const {
  int64_t n = 0;
  for (const auto& p : parameters()) n += p.numel();
  return n;
}

}  // namespace nairrcore::train
