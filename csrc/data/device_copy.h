#pragma once
// Host-to-device copies for the threaded loader. The CUDA implementation
// copies pinned buffers on a side stream and hands the consumer an event.
#include <ATen/ATen.h>

#include <memory>
#include <utility>

namespace nairrcore::data {

class DeviceCopy {
 public:
  virtual ~DeviceCopy() = default;
  // Host buffers for one batch: pinned where the device is a GPU.
  virtual at::Tensor alloc_host(at::IntArrayRef shape, at::ScalarType dtype) = 0;
  // Starts copying both host tensors to the device; `ticket` tracks completion.
  virtual std::pair<at::Tensor, at::Tensor> start(const at::Tensor& hx, const at::Tensor& hy,
                                                  std::shared_ptr<void>& ticket) = 0;
  // Makes the consumer's current stream wait for the copy and keeps the
  // device memory alive for that stream.
  virtual void hand_over(const at::Tensor& dx, const at::Tensor& dy,
                         const std::shared_ptr<void>& ticket) = 0;
  // Blocks until the host buffer of that copy may be overwritten.
  virtual void wait_host_free(const std::shared_ptr<void>& ticket) = 0;
};

// CUDA implementation (ConfigError when the build lacks CUDA).
std::unique_ptr<DeviceCopy> make_cuda_copy(c10::Device device);

}  // namespace nairrcore::data
