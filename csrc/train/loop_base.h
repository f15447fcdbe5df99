#pragma once
// What both training loops hold beyond their model: the device, the precision
// and its loss scaler, the position in training, and the data-parallel state.
#include <c10/core/Device.h>

#include <memory>
#include <string>

#include "compat/torch_compat.h"
#include "train/data_parallel.h"
#include "train/precision.h"
#include "train/training_state.h"

namespace nairrcore::train {

class LoopBase {
 public:
  int64_t epochs_done() const { return progress_.epochs_done; }
  std::string precision() const { return precision_name(precision_); }
  // Data parallel over `group` (null: single process): fit() then takes a
  // shard of every global batch, averages gradients in buckets of `bucket_mb`
  // and reports statistics reduced over the ranks.
  void set_data_parallel(std::shared_ptr<dist::Group> group, double bucket_mb = 25.0) {
    dp_.configure(std::move(group), bucket_mb);
  }

 protected:
  // Parses device and precision (ConfigError naming them) and seeds torch.
  LoopBase(const std::string& device, const std::string& precision, uint64_t seed);
  // float32, bfloat16 or float16, as the precision says.
  at::ScalarType compute_dtype() const;
  // Autocast to the compute dtype for a forward pass (off for fp32).
  compat::AutocastScope autocast() const {
    return {device_.type(), precision_ != Precision::kFp32, compute_dtype()};
  }

  c10::Device device_;
  Precision precision_;
  LossScaler scaler_;
  LoopProgress progress_;
  DataParallel dp_;
};

}  // namespace nairrcore::train
