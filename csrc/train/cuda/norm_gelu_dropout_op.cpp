// The GPU norm-GELU-dropout block as an autograd function (kernels in
// norm_gelu_dropout.cu). Compiled with CUDA only.
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAGeneratorImpl.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/autograd.h>

#include <limits>
#include <mutex>

#include "common/errors.h"
#include "train/cuda/norm_gelu_dropout_launch.h"
#include "train/cuda/op_support.h"
#include "train/dropout_hash.h"
#include "train/norm_gelu_dropout.h"

namespace nairrcore::train {

namespace {
constexpr int64_t kMaxWidth = 1024;  // a row per warp, 32 values per lane in registers

struct NormGeluDropoutCuda : torch::autograd::Function<NormGeluDropoutCuda> {
  // bias: defined, float32 [width] (zeros when the caller has none); slope: whether a backward will follow.
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& z, const at::Tensor& bias,
                            const at::Tensor& gamma, const at::Tensor& beta, double eps, double p, bool slope) {
    const int64_t rows = z.size(0), width = z.size(1);
    auto stats = z.options().dtype(at::kFloat);
    auto out = at::empty_like(z);
    auto gelu_slope = slope ? at::empty_like(z) : at::Tensor();
    auto mean = at::empty({rows}, stats);
    auto rstd = at::empty({rows}, stats);
    cuda::NgdForward a{};
    a.type = cuda::row_type(z.scalar_type());
    a.z = z.const_data_ptr();
    a.bias = bias.const_data_ptr<float>();
    a.gamma = gamma.const_data_ptr<float>();
    a.beta = beta.const_data_ptr<float>();
    a.out = out.data_ptr();
    a.slope = slope ? gelu_slope.data_ptr() : nullptr;
    a.mean = mean.data_ptr<float>();
    a.rstd = rstd.data_ptr<float>();
    a.rows = rows;
    a.width = static_cast<int>(width);
    a.eps = static_cast<float>(eps);
    a.drop = p > 0;
    a.threshold = dropout_threshold(p);
    a.keep = static_cast<float>(1.0 / (1.0 - p));
    if (a.drop) {
      auto gen = at::cuda::detail::getDefaultCUDAGenerator(z.device().index());
      std::lock_guard<std::mutex> lock(gen.mutex());
      // Graph-safe: under capture the state points at the generator's device
      // seed and offset, so each replay draws a fresh key.
      a.rng = gen.get<at::CUDAGeneratorImpl>()->philox_cuda_state(4);
    }
    cuda::check_launch(cuda::launch_ngd_forward(a, cuda::stream_of(z)), "norm_gelu_dropout forward");
    if (slope) ctx->save_for_backward({z, bias, gamma, mean, rstd, gelu_slope});
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    TORCH_CHECK(saved.size() == 6, "norm_gelu_dropout_cuda: backward through a forward that kept no slope");
    const auto &z = saved[0], &bias = saved[1], &gamma = saved[2], &mean = saved[3], &rstd = saved[4],
               &slope = saved[5];
    const int64_t rows = z.size(0), width = z.size(1);
    const auto dout = grads[0].to(z.scalar_type()).contiguous();
    auto dz = at::empty_like(z);
    auto sums = at::empty({3, width}, gamma.options());  // dgamma, dbeta, dbias: every value written
    auto partial = at::empty({cuda::backward_blocks(rows), 3, width}, gamma.options());
    cuda::NgdBackward a{};
    a.type = cuda::row_type(z.scalar_type());
    a.z = z.const_data_ptr();
    a.dout = dout.const_data_ptr();
    a.slope = slope.const_data_ptr();
    a.bias = bias.const_data_ptr<float>();
    a.gamma = gamma.const_data_ptr<float>();
    a.mean = mean.const_data_ptr<float>();
    a.rstd = rstd.const_data_ptr<float>();
    a.dz = dz.data_ptr();
    a.partial = partial.data_ptr<float>();
    a.dgamma = sums.data_ptr<float>();
    a.dbeta = a.dgamma + width;
    a.dbias = a.dgamma + 2 * width;
    a.rows = rows;
    a.width = static_cast<int>(width);
    cuda::check_launch(cuda::launch_ngd_backward(a, cuda::stream_of(z)), "norm_gelu_dropout backward");
    const auto dbias = ctx->needs_input_grad(1) ? sums[2] : at::Tensor();
    return {dz, dbias, sums[0], sums[1], at::Tensor(), at::Tensor(), at::Tensor()};
  }
};
}  // namespace

bool norm_gelu_dropout_cuda_available() { return true; }

bool norm_gelu_dropout_cuda_fits(const at::Tensor& z) {
  return z.is_cuda() && z.dim() == 2 && z.size(1) <= kMaxWidth &&
         z.numel() <= static_cast<int64_t>(std::numeric_limits<uint32_t>::max()) &&
         (z.scalar_type() == at::kFloat || z.scalar_type() == at::kBFloat16 || z.scalar_type() == at::kHalf);
}

at::Tensor norm_gelu_dropout_cuda(const at::Tensor& z, const at::Tensor& gamma, const at::Tensor& beta, double eps,
                                  double p, bool training, const at::Tensor& bias) {
  NAIRR_CHECK_ARG(norm_gelu_dropout_cuda_fits(z),
                  "norm_gelu_dropout_cuda: expected float32/bf16/fp16 CUDA rows [n, w <= 1024], got " +
                      c10::str(z.sizes()) + " " + std::string(c10::toString(z.scalar_type())) + " on " +
                      z.device().str());
  const auto is_param = [&](const at::Tensor& t) {
    return t.scalar_type() == at::kFloat && t.numel() == z.size(1) && t.device() == z.device();
  };
  NAIRR_CHECK_ARG(is_param(gamma) && is_param(beta) && (!bias.defined() || is_param(bias)),
                  "norm_gelu_dropout_cuda: gamma, beta (and bias) must be float32 with one value per column, on " +
                      z.device().str());
  const auto b = bias.defined() ? bias.contiguous() : at::zeros({z.size(1)}, gamma.options());
  return NormGeluDropoutCuda::apply(z.contiguous(), b, gamma.contiguous(), beta.contiguous(), eps,
                                    training ? p : 0.0, norm_gelu_dropout_backward_follows(z, b, gamma, beta));
}

}  // namespace nairrcore::train
