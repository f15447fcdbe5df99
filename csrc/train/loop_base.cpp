#include "train/loop_base.h"

#include <torch/utils.h>

#include "train/device.h"

namespace nairrcore::train {

LoopBase::LoopBase(const std::string& device, const std::string& precision, uint64_t seed)
    : device_(parse_device(device)),
      precision_(parse_precision(precision, device_)),
      scaler_(precision_ == Precision::kFp16, device_) {
  torch::manual_seed(seed);
}

at::ScalarType LoopBase::compute_dtype() const {
  switch (precision_) {
    case Precision::kFp16: return at::kHalf;
    case Precision::kBf16: return at::kBFloat16;
    default: return at::kFloat;
  }
}

}  // namespace nairrcore::train
