#include "train/device.h"

#include <ATen/Context.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <torch/cuda.h>

#include "common/errors.h"

namespace nairrcore::train {

c10::Device parse_device(const std::string& name) {
  c10::Device device(c10::kCPU);
  try {
    device = c10::Device(name);
  } catch (const std::exception&) {
    throw ConfigError("device: expected 'cpu', 'cuda' or 'cuda:N', got '" + name + "'");
  }
  NAIRR_CHECK_ARG(device.is_cpu() || device.is_cuda(),
                  "device: only cpu and cuda are supported, got '" + name + "'");
  if (device.is_cuda()) {
    const auto count = static_cast<int64_t>(torch::cuda::device_count());
    NAIRR_CHECK_ARG(count > 0, "device: '" + name + "' requested but no CUDA GPU is visible");
    // "cuda" is the current device (torch.cuda.set_device, e.g. each rank's own GPU).
    if (!device.has_index()) device = c10::impl::getDeviceGuardImpl(c10::kCUDA)->getDevice();
    NAIRR_CHECK_ARG(device.index() < count, "device: '" + name + "' requested but only " +
                                                std::to_string(count) + " GPU(s) are visible");
  }
  return device;
}

void synchronize_device(const c10::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}

}  // namespace nairrcore::train
