#pragma once
// Dropout whose CPU mask comes from a counter-based hash, computed in the same
// pass that applies it and recomputed in backward (no mask is stored): ATen's
// CPU bernoulli_ draws element by element on one thread and took a sixth of
// the forecasting MLP's step time on the CPU. Same semantics (zero with
// probability p, the rest scaled by 1/(1-p)); the stream is keyed on one draw
// from torch's CPU generator per call, so runs are reproducible from the seed
// and a checkpoint (which saves that generator) resumes bit for bit. On GPUs
// it is ATen's dropout.
#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>

namespace nairrcore::train {

class FastDropoutImpl : public torch::nn::Cloneable<FastDropoutImpl> {
 public:
  explicit FastDropoutImpl(double p);
  void reset() override {}
  at::Tensor forward(const at::Tensor& x);
  double p() const { return p_; }

 private:
  double p_;
};
TORCH_MODULE(FastDropout);

// The {0, 1/(1-p)} mask for `numel` elements from `key` (exposed for tests).
at::Tensor dropout_mask(int64_t numel, double p, uint64_t key);

}  // namespace nairrcore::train
