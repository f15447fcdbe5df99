#pragma once
// NVML read through dlopen("libnvidia-ml.so.1"): no link-time dependency, so
// the same build runs on machines without an NVIDIA driver, where the GPU
// readings are simply absent.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace nairrcore::telemetry {

struct GpuReading {
  int index = 0;
  double util_percent = -1;   // -1: not available
  int64_t mem_used_bytes = -1;
  int64_t mem_total_bytes = -1;
  double power_w = -1;
  // The board's energy counter since the driver loaded (Volta and newer), in
  // joules; -1 where the GPU or driver does not offer it.
  double energy_j = -1;
};

class Nvml {
 public:
  // Loads and initialises NVML; available() is false when either fails.
  Nvml();
  ~Nvml();
  Nvml(const Nvml&) = delete;
  Nvml& operator=(const Nvml&) = delete;

  bool available() const { return handle_ != nullptr && count_ > 0; }
  // Why NVML is absent ("" when available).
  const std::string& reason() const { return reason_; }
  int device_count() const { return count_; }
  std::vector<std::string> device_names() const;
  std::vector<GpuReading> read() const;

 private:
  struct Api;
  void* handle_ = nullptr;
  std::unique_ptr<Api> api_;
  int count_ = 0;
  std::string reason_;
};

}  // namespace nairrcore::telemetry
