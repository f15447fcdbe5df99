#include "distributed/sync_batch_norm.h"

#include <torch/autograd.h>

namespace nairrcore::dist {

namespace {
struct GroupHolder : torch::CustomClassHolder {
  explicit GroupHolder(std::shared_ptr<Group> g) : group(std::move(g)) {}
  std::shared_ptr<Group> group;
};

// y = sum over ranks of x, on every rank. Each rank's loss depends on y, so
// the gradient of x is the sum over ranks of the gradients of y.
struct AllReduceSum : torch::autograd::Function<AllReduceSum> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x,
                            const std::shared_ptr<Group>& group) {
    ctx->saved_data["group"] = c10::IValue::make_capsule(c10::make_intrusive<GroupHolder>(group));
    return all_reduce(x.contiguous().clone(), *group);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto holder = c10::static_intrusive_pointer_cast<GroupHolder>(ctx->saved_data["group"].toCapsule());
    return {all_reduce(grads[0].contiguous().clone(), *holder->group), at::Tensor()};
  }
  static at::Tensor all_reduce(at::Tensor t, Group& group) {
    std::vector<at::Tensor> one{t};
    group.allreduce_sum_(one);
    return t;
  }
};
}  // namespace

at::Tensor SyncBatchNorm2dImpl::forward(const at::Tensor& x) {
  if (is_training() && group_ && group_->size() > 1) return forward_synced(x);
  return torch::nn::BatchNorm2dImpl::forward(x);
}

at::Tensor SyncBatchNorm2dImpl::forward_synced(const at::Tensor& x) {
  TORCH_CHECK(x.dim() == 4, "SyncBatchNorm2d: expected a 4-D input, got ", x.dim(), "-D");
  const int64_t channels = x.size(1);
  auto xf = x.to(at::kFloat);  // statistics in float32 under any autocast
  auto local_count = at::full({1}, static_cast<double>(x.numel() / channels), xf.options());
  auto stats = at::cat({xf.sum({0, 2, 3}), (xf * xf).sum({0, 2, 3}), local_count});
  stats = AllReduceSum::apply(stats, group_);
  auto count = stats.narrow(0, 2 * channels, 1);
  auto mean = stats.narrow(0, 0, channels) / count;
  auto var = (stats.narrow(0, channels, channels) / count - mean * mean).clamp_min(0);
  auto scale = at::rsqrt(var + options.eps());
  if (options.affine()) scale = scale * weight;
  auto shift = options.affine() ? bias - mean * scale : -mean * scale;
  auto y = xf * scale.view({1, channels, 1, 1}) + shift.view({1, channels, 1, 1});
  if (options.track_running_stats()) {
    torch::NoGradGuard no_grad;  // tensor arithmetic only: no host sync on a GPU
    const double momentum = options.momentum().value_or(0.1);
    auto n = count.detach();
    running_mean.mul_(1 - momentum).add_(mean.detach(), momentum);
    running_var.mul_(1 - momentum).add_(var.detach() * n / (n - 1).clamp_min(1), momentum);
    num_batches_tracked.add_(1);
  }
  return y.to(x.scalar_type());
}

void sync_batch_norm_over(torch::nn::Module& model, const std::shared_ptr<Group>& group) {
  for (auto& m : model.modules(/*include_self=*/true))
    if (auto* bn = dynamic_cast<SyncBatchNorm2dImpl*>(m.get())) bn->set_group(group);
}

}  // namespace nairrcore::dist
