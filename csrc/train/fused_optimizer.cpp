#include "train/fused_optimizer.h"

#include <ATen/ATen.h>
#include <torch/utils.h>

#include <optional>

#include "common/errors.h"

namespace nairrcore::train {

namespace {
std::optional<at::Tensor> optional_of(const at::Tensor& t) {
  return t.defined() ? std::optional<at::Tensor>(t) : std::nullopt;
}

// The group's parameters that have a gradient, and those gradients.
struct Live {
  std::vector<at::Tensor> params, grads;
};
Live live_params(const torch::optim::OptimizerParamGroup& group) {
  Live live;
  for (const auto& p : group.params()) {
    if (!p.grad().defined()) continue;
    NAIRR_CHECK_ARG(!p.grad().is_sparse(), "fused optimiser: sparse gradients are not supported");
    live.params.push_back(p);
    live.grads.push_back(p.grad());
  }
  return live;
}
}  // namespace

const at::Tensor& FusedLr::lr_tensor(size_t group, double lr, const at::Tensor& like) {
  static const at::Tensor none;
  if (!like.is_cuda()) return none;
  if (lr_.size() <= group) lr_.resize(group + 1);
  if (!lr_[group].defined()) lr_[group] = at::full({}, lr, like.options().dtype(at::kFloat));
  return lr_[group];
}

void FusedLr::fill_lr(size_t group, double lr) {
  // Kept on the device: a captured step reads the value of its replay.
  if (group < lr_.size() && lr_[group].defined()) lr_[group].fill_(lr);
}

// --- AdamW ------------------------------------------------------------------

torch::Tensor FusedAdamW::step(LossClosure closure) {
  at::Tensor loss;
  if (closure) {
    at::AutoGradMode enable(true);
    loss = closure();
  }
  fused_step();
  return loss;
}

void FusedAdamW::fused_step(const at::Tensor& grad_scale, const at::Tensor& found_inf) {
  torch::NoGradGuard no_grad;
  for (size_t g = 0; g < param_groups_.size(); ++g) {
    auto& group = param_groups_[g];
    const auto& o = static_cast<const torch::optim::AdamWOptions&>(group.options());
    NAIRR_CHECK_ARG(!o.amsgrad(), "fused AdamW: amsgrad is not supported");
    Live live = live_params(group);
    if (live.params.empty()) continue;
    std::vector<at::Tensor> exp_avgs, exp_avg_sqs, steps;
    for (const auto& p : live.params) {
      void* key = p.unsafeGetTensorImpl();
      auto it = state_.find(key);
      if (it == state_.end()) {
        auto s = std::make_unique<torch::optim::AdamWParamState>();
        s->exp_avg(at::zeros_like(p, at::MemoryFormat::Preserve));
        s->exp_avg_sq(at::zeros_like(p, at::MemoryFormat::Preserve));
        it = state_.emplace(key, std::move(s)).first;
      }
      auto& s = static_cast<torch::optim::AdamWParamState&>(*it->second);
      auto& count = steps_[key];
      if (!count.defined()) count = at::full({}, static_cast<double>(s.step()), p.options().dtype(at::kFloat));
      exp_avgs.push_back(s.exp_avg());
      exp_avg_sqs.push_back(s.exp_avg_sq());
      steps.push_back(count);
    }
    const double beta1 = std::get<0>(o.betas()), beta2 = std::get<1>(o.betas());
    // As torch.optim.AdamW(fused=True): the kernel reads the incremented
    // count; a step skipped on inf takes its increment back.
    at::_foreach_add_(steps, 1);
    const auto& lr = lr_tensor(g, o.lr(), live.params[0]);
    if (lr.defined()) {
      at::_fused_adamw_(live.params, live.grads, exp_avgs, exp_avg_sqs, {}, steps, lr, beta1, beta2,
                        o.weight_decay(), o.eps(), false, false, optional_of(grad_scale), optional_of(found_inf));
    } else {
      at::_fused_adamw_(live.params, live.grads, exp_avgs, exp_avg_sqs, {}, steps, o.lr(), beta1, beta2,
                        o.weight_decay(), o.eps(), false, false, optional_of(grad_scale), optional_of(found_inf));
    }
    if (found_inf.defined()) {
      // The counts are 0-dim, the scaler's flag has one element.
      at::_foreach_sub_(steps, std::vector<at::Tensor>(steps.size(), found_inf.reshape({})));
    }
  }
}

void FusedAdamW::set_lr(size_t group, double lr) {
  param_groups_.at(group).options().set_lr(lr);
  fill_lr(group, lr);
}

void FusedAdamW::save(torch::serialize::OutputArchive& archive) const {
  for (const auto& [key, count] : steps_) {
    auto it = state_.find(key);
    if (it != state_.end())
      static_cast<torch::optim::AdamWParamState&>(*it->second).step(std::llround(count.item<double>()));
  }
  torch::optim::AdamW::save(archive);
}

void FusedAdamW::load(torch::serialize::InputArchive& archive) {
  torch::optim::AdamW::load(archive);
  steps_.clear();  // made again from the loaded counts at the next step
}

// --- SGD --------------------------------------------------------------------

FusedSGD::FusedSGD(const std::vector<torch::optim::OptimizerParamGroup>& groups,
                   torch::optim::SGDOptions defaults)
    : torch::optim::SGD(groups, std::move(defaults)) {
  for (const auto& group : param_groups_) {
    const auto& o = static_cast<const torch::optim::SGDOptions&>(group.options());
    NAIRR_CHECK_ARG(o.dampening() == 0, "fused SGD: dampening is not supported");
  }
}

torch::Tensor FusedSGD::step(LossClosure closure) {
  at::Tensor loss;
  if (closure) {
    at::AutoGradMode enable(true);
    loss = closure();
  }
  fused_step();
  return loss;
}

void FusedSGD::fused_step(const at::Tensor& grad_scale, const at::Tensor& found_inf) {
  torch::NoGradGuard no_grad;
  for (size_t g = 0; g < param_groups_.size(); ++g) {
    auto& group = param_groups_[g];
    const auto& o = static_cast<const torch::optim::SGDOptions&>(group.options());
    Live live = live_params(group);
    if (live.params.empty()) continue;
    std::vector<at::Tensor> buffers;
    if (o.momentum() != 0) {
      for (const auto& p : live.params) {
        void* key = p.unsafeGetTensorImpl();
        auto it = state_.find(key);
        if (it == state_.end()) {
          auto s = std::make_unique<torch::optim::SGDParamState>();
          s->momentum_buffer(at::zeros_like(p, at::MemoryFormat::Preserve));
          it = state_.emplace(key, std::move(s)).first;
        }
        buffers.push_back(static_cast<torch::optim::SGDParamState&>(*it->second).momentum_buffer());
      }
    }
    const auto& lr = lr_tensor(g, o.lr(), live.params[0]);
    if (lr.defined()) {
      at::_fused_sgd_(live.params, live.grads, buffers, o.weight_decay(), o.momentum(), lr, 0.0, o.nesterov(),
                      false, false, optional_of(grad_scale), optional_of(found_inf));
    } else {
      at::_fused_sgd_(live.params, live.grads, buffers, o.weight_decay(), o.momentum(), o.lr(), 0.0,
                      o.nesterov(), false, false, optional_of(grad_scale), optional_of(found_inf));
    }
  }
}

void FusedSGD::set_lr(size_t group, double lr) {
  param_groups_.at(group).options().set_lr(lr);
  fill_lr(group, lr);
}

}  // namespace nairrcore::train
