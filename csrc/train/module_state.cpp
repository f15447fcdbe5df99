#include "train/module_state.h"

#include <torch/utils.h>

#include "common/errors.h"
#include "train/train_step.h"

namespace nairrcore::train {

std::map<std::string, at::Tensor> module_state(const torch::nn::Module& module) {
  std::map<std::string, at::Tensor> out;
  for (const auto& item : module.named_parameters()) out[item.key()] = item.value().detach().cpu().clone();
  for (const auto& item : module.named_buffers()) out[item.key()] = item.value().detach().cpu().clone();
  return out;
}

void load_module_state(torch::nn::Module& module, const std::map<std::string, at::Tensor>& state) {
  torch::NoGradGuard no_grad;
  auto params = module.named_parameters();
  auto buffers = module.named_buffers();
  for (auto* dict : {&params, &buffers}) {
    for (const auto& item : *dict) {
      auto it = state.find(item.key());
      if (it == state.end()) throw ConfigError("load_state_dict: missing key '" + item.key() + "'");
      NAIRR_CHECK_ARG(it->second.sizes() == item.value().sizes(),
                      "load_state_dict: shape mismatch for '" + item.key() + "': expected " +
                          c10::str(item.value().sizes()) + ", got " + c10::str(it->second.sizes()));
      item.value().copy_(it->second);
    }
  }
  for (const auto& [key, value] : state) {
    NAIRR_CHECK_ARG(params.contains(key) || buffers.contains(key),
                    "load_state_dict: unexpected key '" + key + "'");
  }
}

std::vector<at::Tensor> optimizer_gradients(const torch::optim::Optimizer& optimizer) {
  std::vector<at::Tensor> grads;
  for (const auto& group : optimizer.param_groups())
    for (const auto& p : group.params())
      if (p.grad().defined()) grads.push_back(p.grad());
  return grads;
}

}  // namespace nairrcore::train
