#include "train/dropout.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <torch/nn/functional/dropout.h>

#include <cmath>
#include <mutex>

#include "common/errors.h"

namespace nairrcore::train {

namespace {
inline uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
}  // namespace

FastDropoutImpl::FastDropoutImpl(double p) : p_(p) {
  NAIRR_CHECK_ARG(p >= 0 && p < 1, "dropout: expected 0 <= p < 1, got " + std::to_string(p));
}

at::Tensor dropout_mask(int64_t numel, double p, uint64_t key) {
  auto mask = at::empty({numel}, at::kFloat);
  float* m = mask.data_ptr<float>();
  // Each 64-bit hash gives two 32-bit uniforms; drop where one is below p * 2^32.
  const auto threshold = static_cast<uint64_t>(std::llround(p * 4294967296.0));
  const float keep = static_cast<float>(1.0 / (1.0 - p));
  at::parallel_for(0, (numel + 1) / 2, 16384, [&](int64_t begin, int64_t end) {
    for (int64_t j = begin; j < end; ++j) {
      const uint64_t h = mix(key + static_cast<uint64_t>(j + 1) * 0x9E3779B97F4A7C15ull);
      const int64_t i = 2 * j;
      m[i] = (h & 0xFFFFFFFFull) < threshold ? 0.f : keep;
      if (i + 1 < numel) m[i + 1] = (h >> 32) < threshold ? 0.f : keep;
    }
  });
  return mask;
}

at::Tensor FastDropoutImpl::forward(const at::Tensor& x) {
  if (!is_training() || p_ == 0) return x;
  if (!x.is_cpu()) return torch::nn::functional::dropout(x, torch::nn::functional::DropoutFuncOptions().p(p_).training(true));
  uint64_t key;
  {
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    key = gen.get<at::CPUGeneratorImpl>()->random64();
  }
  auto mask = dropout_mask(x.numel(), p_, key).view(x.sizes());
  return x * (x.scalar_type() == at::kFloat ? mask : mask.to(x.scalar_type()));
}

}  // namespace nairrcore::train
