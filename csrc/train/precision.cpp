#include "train/precision.h"

#include "common/errors.h"

namespace nairrcore::train {

Precision parse_precision(const std::string& name, c10::Device device) {
  if (name == "fp32") return Precision::kFp32;
  if (name == "bf16") return Precision::kBf16;
  if (name == "fp16") {
    NAIRR_CHECK_ARG(device.is_cuda(), "precision: fp16 needs a GPU; use fp32 or bf16 on " + device.str());
    return Precision::kFp16;
  }
  throw ConfigError("precision: expected one of fp32, bf16, fp16, got '" + name + "'");
}

std::string precision_name(Precision p) {
  switch (p) {
    case Precision::kBf16: return "bf16";
    case Precision::kFp16: return "fp16";
    default: return "fp32";
  }
}

LossScaler::LossScaler(bool enabled, c10::Device device, double init_scale, double growth_factor,
                       double backoff_factor, int64_t growth_interval)
    : enabled_(enabled),
      growth_factor_(growth_factor),
      backoff_factor_(backoff_factor),
      growth_interval_(growth_interval) {
  auto opts = at::TensorOptions().device(device);
  scale_ = at::full({1}, enabled ? init_scale : 1.0, opts.dtype(at::kFloat));
  growth_tracker_ = at::zeros({1}, opts.dtype(at::kInt));
  found_inf_ = at::zeros({1}, opts.dtype(at::kFloat));
  unit_ = at::ones({1}, opts.dtype(at::kFloat));
  skipped_ = at::zeros({1}, opts.dtype(at::kFloat));
}

at::Tensor LossScaler::scale(const at::Tensor& loss) const {
  return enabled_ ? loss * scale_ : loss;
}

void LossScaler::check(const std::vector<at::Tensor>& grads) {
  if (!enabled_) return;
  found_inf_.zero_();
  // ATen's check-and-unscale with a factor of one: only the inf/NaN check.
  at::_amp_foreach_non_finite_check_and_unscale_(grads, found_inf_, unit_);
  skipped_.add_(found_inf_);
}

void LossScaler::update() {
  if (!enabled_) return;
  at::_amp_update_scale_(scale_, growth_tracker_, found_inf_, growth_factor_, backoff_factor_,
                         growth_interval_);
}

double LossScaler::value() const { return scale_.item<double>(); }

int64_t LossScaler::take_skipped() {
  if (!enabled_) return 0;
  const auto n = static_cast<int64_t>(skipped_.item<float>());
  skipped_.zero_();
  return n;
}

}  // namespace nairrcore::train
