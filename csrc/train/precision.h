#pragma once
// Mixed precision: the chosen compute dtype and, for fp16, dynamic loss
// scaling built on ATen's fused AMP kernels (the same ones GradScaler uses).
#include <ATen/ATen.h>

#include <string>
#include <vector>

namespace nairrcore::train {

enum class Precision { kFp32, kBf16, kFp16 };

// "fp32" | "bf16" | "fp16"; fp16 is GPU-only. ConfigError otherwise.
Precision parse_precision(const std::string& name, c10::Device device);
std::string precision_name(Precision p);

class LossScaler {
 public:
  LossScaler(bool enabled, c10::Device device, double init_scale = 65536.0,
             double growth_factor = 2.0, double backoff_factor = 0.5,
             int64_t growth_interval = 2000);
  bool enabled() const { return enabled_; }
  at::Tensor scale(const at::Tensor& loss) const;
  // Sets found_inf() where a gradient is inf/NaN, without unscaling (the fused
  // optimisers unscale inside their kernel and skip on found_inf), and counts
  // the skip on the device: nothing here waits for the GPU.
  void check(const std::vector<at::Tensor>& grads);
  // The scale the gradients carry, and the inf flag of the last check (float32 [1]).
  const at::Tensor& scale_tensor() const { return scale_; }
  const at::Tensor& found_inf() const { return found_inf_; }
  void update();
  double value() const;
  // Steps skipped since the last call (reads the device counter, then clears it).
  int64_t take_skipped();
  // The scale and growth tracker, for checkpoints.
  std::vector<at::Tensor> state() const { return {scale_, growth_tracker_}; }

 private:
  bool enabled_;
  double growth_factor_, backoff_factor_;
  int64_t growth_interval_;
  at::Tensor scale_, growth_tracker_, found_inf_, unit_, skipped_;
};

}  // namespace nairrcore::train
