// The GPU 2x2 max pool as an autograd function (kernels in max_pool.cu).
// Compiled with CUDA only.
#include <ATen/ATen.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/autograd.h>

#include <limits>
#include <string>

#include "common/errors.h"
#include "train/cuda/max_pool_launch.h"
#include "train/cuda/op_support.h"
#include "train/max_pool.h"

namespace nairrcore::train {

namespace {
struct MaxPool2x2Cuda : torch::autograd::Function<MaxPool2x2Cuda> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x) {
    const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
    auto out = at::empty({n, c, h / 2, w / 2}, x.options().memory_format(at::MemoryFormat::ChannelsLast));
    auto which = at::empty({n * c * (h / 2) * (w / 2)}, x.options().dtype(at::kByte));
    cuda::MaxPool2x2 a{cuda::row_type(x.scalar_type()), x.const_data_ptr(), out.data_ptr(), which.data_ptr<uint8_t>(),
                       n, static_cast<int>(h), static_cast<int>(w), static_cast<int>(c)};
    cuda::check_launch(cuda::launch_max_pool_2x2(a, cuda::stream_of(x)), "max_pool_2x2 forward");
    ctx->save_for_backward({which});
    ctx->saved_data["shape"] = std::vector<int64_t>{n, c, h, w};
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto which = ctx->get_saved_variables()[0];
    const auto shape = ctx->saved_data["shape"].toIntVector();
    const auto dout = grads[0].contiguous(at::MemoryFormat::ChannelsLast);
    const auto layout = dout.options().memory_format(at::MemoryFormat::ChannelsLast);
    // An odd last row or column lies in no window: its gradient is 0.
    auto dx = at::empty(shape, layout);  // (at::zeros ignores the memory format)
    if (shape[2] % 2 || shape[3] % 2) dx.zero_();
    cuda::MaxPool2x2Backward a{cuda::row_type(dout.scalar_type()), dout.const_data_ptr(),
                               which.const_data_ptr<uint8_t>(), dx.data_ptr(), shape[0],
                               static_cast<int>(shape[2]), static_cast<int>(shape[3]), static_cast<int>(shape[1])};
    cuda::check_launch(cuda::launch_max_pool_2x2_backward(a, cuda::stream_of(dout)), "max_pool_2x2 backward");
    return {dx};
  }
};
}  // namespace

bool max_pool_2x2_cuda_fits(const at::Tensor& x) {
  const auto t = x.scalar_type();
  return x.is_cuda() && x.dim() == 4 && x.size(2) >= 2 && x.size(3) >= 2 &&
         x.is_contiguous(at::MemoryFormat::ChannelsLast) && x.size(1) <= std::numeric_limits<int>::max() &&
         x.size(2) <= std::numeric_limits<int>::max() && x.size(3) <= std::numeric_limits<int>::max() &&
         (t == at::kFloat || t == at::kBFloat16 || t == at::kHalf);
}

at::Tensor max_pool_2x2_cuda(const at::Tensor& x) {
  NAIRR_CHECK_ARG(max_pool_2x2_cuda_fits(x),
                  "max_pool_2x2_cuda: expected channels-last float32/bf16/fp16 CUDA images [n, c, h, w] with h and "
                  "w >= 2, got " + c10::str(x.sizes()) + " " + std::string(c10::toString(x.scalar_type())) +
                      " on " + x.device().str());
  return MaxPool2x2Cuda::apply(x);
}

}  // namespace nairrcore::train
