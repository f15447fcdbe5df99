#include "train/linear.h"

#include <torch/autograd.h>
#include <torch/nn/functional/linear.h>

#include <utility>

#include "train/cpu_matmul.h"

namespace nairrcore::train {

namespace {
// dx and dw of y = x @ weight.T from dy, each when asked for.
std::pair<at::Tensor, at::Tensor> linear_input_grads(torch::autograd::AutogradContext* ctx, const at::Tensor& dy) {
  const auto saved = ctx->get_saved_variables();
  const auto& x = saved[0];
  const auto& weight = saved[1];
  at::Tensor dx, dw;
  if (ctx->needs_input_grad(0)) dx = cpu_matmul_product(dy, weight);
  if (ctx->needs_input_grad(1)) dw = cpu_matmul_product(dy.t(), x);
  return {dx, dw};
}

struct CpuLinear : torch::autograd::Function<CpuLinear> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& weight,
                            const at::Tensor& bias) {
    ctx->save_for_backward({x, weight});
    auto y = cpu_matmul_product(x, weight.t());
    if (bias.defined()) y.add_(bias);
    return y;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto dy = grads[0].contiguous();
    auto [dx, dw] = linear_input_grads(ctx, dy);
    return {dx, dw, ctx->needs_input_grad(2) ? dy.sum(0) : at::Tensor()};
  }
};

// x @ weight.T alone (autograd's apply takes no undefined bias).
struct CpuUnbiasedLinear : torch::autograd::Function<CpuUnbiasedLinear> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& weight) {
    ctx->save_for_backward({x, weight});
    return cpu_matmul_product(x, weight.t());
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto [dx, dw] = linear_input_grads(ctx, grads[0].contiguous());
    return {dx, dw};
  }
};

bool takes_cpu_path(const at::Tensor& x, const at::Tensor& weight) {
  return cpu_matmul() == CpuMatmul::OneDnn && cpu_fp32_rows(x) && weight.scalar_type() == at::kFloat;
}
}  // namespace

FastLinearImpl::FastLinearImpl(int64_t in_features, int64_t out_features)
    : torch::nn::LinearImpl(torch::nn::LinearOptions(in_features, out_features)) {}

at::Tensor FastLinearImpl::forward(const at::Tensor& x) {
  if (!takes_cpu_path(x, weight)) return torch::nn::LinearImpl::forward(x);
  return CpuLinear::apply(x.contiguous(), weight, bias);
}

at::Tensor FastLinearImpl::forward_without_bias(const at::Tensor& x) {
  if (!takes_cpu_path(x, weight)) return torch::nn::functional::linear(x, weight);
  return CpuUnbiasedLinear::apply(x.contiguous(), weight);
}

at::Tensor cpu_linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  return CpuLinear::apply(x, weight, bias);
}

}  // namespace nairrcore::train
