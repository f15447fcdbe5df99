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

}  // namespace nairrcore::train
