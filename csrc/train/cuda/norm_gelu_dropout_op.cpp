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
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& z, const at::Tensor& gamma,
                            const at::Tensor& beta, double eps, double p) {
    const int64_t rows = z.size(0), width = z.size(1);
    auto stats = z.options().dtype(at::kFloat);
    auto out = at::empty_like(z);
    auto mean = at::empty({rows}, stats);
    auto rstd = at::empty({rows}, stats);
    auto key = at::zeros({1}, z.options().dtype(at::kLong));
    cuda::NgdForward a{};
    a.type = cuda::row_type(z.scalar_type());
    a.z = z.const_data_ptr();
    a.gamma = gamma.const_data_ptr<float>();
    a.beta = beta.const_data_ptr<float>();
    a.out = out.data_ptr();
    a.mean = mean.data_ptr<float>();
    a.rstd = rstd.data_ptr<float>();
    a.rows = rows;
    a.width = static_cast<int>(width);
    a.eps = static_cast<float>(eps);
    a.drop = p > 0;
    a.threshold = dropout_threshold(p);
    a.keep = static_cast<float>(1.0 / (1.0 - p));
    a.key = key.data_ptr<int64_t>();
    if (a.drop) {
      auto gen = at::cuda::detail::getDefaultCUDAGenerator(z.device().index());
      std::lock_guard<std::mutex> lock(gen.mutex());
      // Graph-safe: under capture the state points at the generator's device
      // seed and offset, so each replay draws a fresh key.
      a.rng = gen.get<at::CUDAGeneratorImpl>()->philox_cuda_state(4);
    }
    cuda::check_launch(cuda::launch_ngd_forward(a, cuda::stream_of(z)), "norm_gelu_dropout forward");
    ctx->save_for_backward({z, gamma, beta, mean, rstd, key});
    ctx->saved_data["p"] = p;
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &z = saved[0], &gamma = saved[1], &beta = saved[2], &mean = saved[3], &rstd = saved[4],
               &key = saved[5];
    const double p = ctx->saved_data["p"].toDouble();
    const int64_t rows = z.size(0), width = z.size(1);
    const auto dout = grads[0].to(z.scalar_type()).contiguous();
    auto dz = at::empty_like(z);
    auto dgamma = at::zeros({width}, gamma.options());
    auto dbeta = at::zeros({width}, beta.options());
    auto partial = at::empty({cuda::backward_blocks(rows), 2, width}, gamma.options());
    cuda::NgdBackward a{};
    a.type = cuda::row_type(z.scalar_type());
    a.z = z.const_data_ptr();
    a.dout = dout.const_data_ptr();
    a.gamma = gamma.const_data_ptr<float>();
    a.beta = beta.const_data_ptr<float>();
    a.mean = mean.const_data_ptr<float>();
    a.rstd = rstd.const_data_ptr<float>();
    a.dz = dz.data_ptr();
    a.partial = partial.data_ptr<float>();
    a.dgamma = dgamma.data_ptr<float>();
    a.dbeta = dbeta.data_ptr<float>();
    a.rows = rows;
    a.width = static_cast<int>(width);
    a.drop = p > 0;
    a.threshold = dropout_threshold(p);
    a.keep = static_cast<float>(1.0 / (1.0 - p));
    a.key = key.const_data_ptr<int64_t>();
    cuda::check_launch(cuda::launch_ngd_backward(a, cuda::stream_of(z)), "norm_gelu_dropout backward");
    return {dz, dgamma, dbeta, at::Tensor(), at::Tensor()};
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
                                  double p, bool training) {
  NAIRR_CHECK_ARG(norm_gelu_dropout_cuda_fits(z),
                  "norm_gelu_dropout_cuda: expected float32/bf16/fp16 CUDA rows [n, w <= 1024], got " +
                      c10::str(z.sizes()) + " " + std::string(c10::toString(z.scalar_type())) + " on " +
                      z.device().str());
  NAIRR_CHECK_ARG(gamma.scalar_type() == at::kFloat && beta.scalar_type() == at::kFloat &&
                      gamma.numel() == z.size(1) && beta.numel() == z.size(1) && gamma.device() == z.device() &&
                      beta.device() == z.device(),
                  "norm_gelu_dropout_cuda: gamma and beta must be float32 with one value per column, on " +
                      z.device().str());
  return NormGeluDropoutCuda::apply(z.contiguous(), gamma.contiguous(), beta.contiguous(), eps,
                                    training ? p : 0.0);
}

}  // namespace nairrcore::train
