#include "train/dropout.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <torch/autograd.h>
#include <torch/nn/functional/dropout.h>

#include <cmath>
#include <limits>
#include <mutex>

#include "common/errors.h"
#include "train/dropout_hash.h"

namespace nairrcore::train {

namespace {
// y[i] = x[i] * (0 or 1/(1-p)) for elements first..first+n of the stream,
// built for AVX-512, AVX2 and the baseline, chosen at load time.
__attribute__((target_clones("avx512f", "avx2", "default")))
void masked_scale(const float* x, float* y, int64_t n, uint32_t first, MaskStream s) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * s.scale(first + static_cast<uint32_t>(i));
}

at::Tensor apply_mask(const at::Tensor& x, const MaskStream& s) {
  auto in = x.contiguous();
  auto out = at::empty_like(in);
  const float* src = in.data_ptr<float>();
  float* dst = out.data_ptr<float>();
  at::parallel_for(0, in.numel(), 32768, [&](int64_t begin, int64_t end) {
    masked_scale(src + begin, dst + begin, end - begin, static_cast<uint32_t>(begin), s);
  });
  return out;
}

// The backward pass regenerates the mask from (p, key) instead of keeping it.
struct HashDropout : torch::autograd::Function<HashDropout> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, double p, int64_t key) {
    ctx->saved_data["p"] = p;
    ctx->saved_data["key"] = key;
    return apply_mask(x, MaskStream(p, static_cast<uint64_t>(key)));
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const MaskStream s(ctx->saved_data["p"].toDouble(), static_cast<uint64_t>(ctx->saved_data["key"].toInt()));
    return {apply_mask(grads[0], s), at::Tensor(), at::Tensor()};
  }
};
}  // namespace

FastDropoutImpl::FastDropoutImpl(double p) : p_(p) {
  NAIRR_CHECK_ARG(p >= 0 && p < 1, "dropout: expected 0 <= p < 1, got " + std::to_string(p));
}

uint64_t draw_dropout_key(int64_t numel) {
  NAIRR_CHECK_ARG(numel <= std::numeric_limits<uint32_t>::max(),
                  "dropout: tensors above 2^32 elements are not supported on the CPU");
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return gen.get<at::CPUGeneratorImpl>()->random64();
}

at::Tensor dropout_mask(int64_t numel, double p, uint64_t key) {
  return apply_mask(at::ones({numel}, at::kFloat), MaskStream(p, key));
}

at::Tensor FastDropoutImpl::forward(const at::Tensor& x) {
  if (!is_training() || p_ == 0) return x;
  if (!x.is_cpu()) return torch::nn::functional::dropout(x, torch::nn::functional::DropoutFuncOptions().p(p_).training(true));
  const uint64_t key = draw_dropout_key(x.numel());
  if (x.scalar_type() == at::kFloat) return HashDropout::apply(x, p_, static_cast<int64_t>(key));
  return x * dropout_mask(x.numel(), p_, key).view(x.sizes()).to(x.scalar_type());
}

}  // namespace nairrcore::train
