// Pinned host buffers and asynchronous copies on a side stream.
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "common/errors.h"
#include "data/device_copy.h"

namespace nairrcore::data {

namespace {

class CudaCopy final : public DeviceCopy {
 public:
  explicit CudaCopy(c10::Device device)
      : device_(device), stream_(c10::cuda::getStreamFromPool(false, device.index())) {}

  at::Tensor alloc_host(at::IntArrayRef shape, at::ScalarType dtype) override {
    return at::empty(shape, at::TensorOptions().dtype(dtype).pinned_memory(true));
  }

  std::pair<at::Tensor, at::Tensor> start(const at::Tensor& hx, const at::Tensor& hy,
                                          std::shared_ptr<void>& ticket) override {
    c10::cuda::CUDAStreamGuard guard(stream_);
    auto dx = hx.to(device_, /*non_blocking=*/true);
    auto dy = hy.to(device_, /*non_blocking=*/true);
    auto event = std::make_shared<at::cuda::CUDAEvent>();
    event->record(stream_);
    ticket = event;
    return {dx, dy};
  }

  void hand_over(const at::Tensor& dx, const at::Tensor& dy,
                 const std::shared_ptr<void>& ticket) override {
    auto* event = static_cast<at::cuda::CUDAEvent*>(ticket.get());
    auto consumer = c10::cuda::getCurrentCUDAStream(device_.index());
    event->block(consumer);
    // Both tensors were allocated on the side stream; tell the caching
    // allocator that the consumer's stream uses them too.
    for (const auto* t : {&dx, &dy}) {
      c10::cuda::CUDACachingAllocator::recordStream(t->storage().data_ptr(), consumer);
    }
  }

  void wait_host_free(const std::shared_ptr<void>& ticket) override {
    if (ticket) static_cast<at::cuda::CUDAEvent*>(ticket.get())->synchronize();
  }

 private:
  c10::Device device_;
  c10::cuda::CUDAStream stream_;
};

}  // namespace

std::unique_ptr<DeviceCopy> make_cuda_copy(c10::Device device) {
  NAIRR_CHECK_ARG(device.is_cuda(), "make_cuda_copy: expected a CUDA device");
  return std::make_unique<CudaCopy>(device);
}

}  // namespace nairrcore::data
