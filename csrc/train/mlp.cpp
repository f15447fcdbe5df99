#include "train/mlp.h"

#include <torch/nn/modules/activation.h>

#include "common/errors.h"
#include "train/cpu_matmul.h"
#include "train/norm_gelu_dropout.h"

namespace nairrcore::train {

void MlpConfig::validate() const {
  NAIRR_CHECK_ARG(inputs >= 1, "inputs: expected >= 1, got " + std::to_string(inputs));
  NAIRR_CHECK_ARG(width >= 1, "width: expected >= 1, got " + std::to_string(width));
  NAIRR_CHECK_ARG(depth >= 1, "depth: expected >= 1, got " + std::to_string(depth));
  NAIRR_CHECK_ARG(dropout >= 0 && dropout < 1, "dropout: expected 0 <= p < 1, got " + std::to_string(dropout));
  NAIRR_CHECK_ARG(norm_eps > 0, "norm_eps: expected > 0");
}

MlpImpl::MlpImpl(const MlpConfig& c) {
  c.validate();
  torch::nn::Sequential net;
  int64_t in = c.inputs;
  for (int64_t i = 0; i < c.depth; ++i) {
    linears_.emplace_back(in, c.width);
    norms_.emplace_back(torch::nn::LayerNormOptions({c.width}).eps(c.norm_eps));
    dropouts_.emplace_back(c.dropout);
    net->push_back(linears_.back());
    net->push_back(norms_.back());
    net->push_back(torch::nn::GELU());
    net->push_back(dropouts_.back());
    in = c.width;
  }
  linears_.emplace_back(in, c.outputs);
  net->push_back(linears_.back());
  net_ = register_module("net", net);
  fused_gpu_ = c.fused_blocks && norm_gelu_dropout_cuda_available() && c.width <= 1024;
}

at::Tensor MlpImpl::forward(const at::Tensor& x) {
  if (cpu_fp32_rows(x) || (x.is_cuda() && fused_gpu_)) return fused_forward(x);
  return net_->forward(x);
}

at::Tensor MlpImpl::fused_forward(const at::Tensor& x) {
  at::Tensor h = x;
  for (size_t i = 0; i < norms_.size(); ++i) {
    const auto& norm = norms_[i];
    auto& linear = linears_[i];
    const auto block = h.is_cuda() ? norm_gelu_dropout_cuda : norm_gelu_dropout;
    // The linear's bias is added, and its gradient summed, in the block.
    h = block(linear->forward_without_bias(h), norm->weight, norm->bias, norm->options.eps(), dropouts_[i]->p(),
              is_training(), linear->bias);
  }
  return linears_.back()->forward(h);
}

int64_t MlpImpl::num_parameters() const {
  int64_t n = 0;
  for (const auto& p : parameters()) n += p.numel();
  return n;
}

}  // namespace nairrcore::train
