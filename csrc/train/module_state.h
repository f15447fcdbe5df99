#pragma once
// Module state as a name -> tensor map (parameters and buffers, on the CPU),
// the format both trainers save and Python's torch.load reads.
#include <torch/nn/module.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "train/precision.h"

namespace nairrcore::train {

std::map<std::string, at::Tensor> module_state(const torch::nn::Module& module);
// ConfigError naming the key on a missing, unexpected or mis-shaped entry.
void load_module_state(torch::nn::Module& module, const std::map<std::string, at::Tensor>& state);

// Gradients of the parameters that have one.
std::vector<at::Tensor> gradients(const std::vector<at::Tensor>& params);

// backward() of the (scaled) loss, unscale, optimizer step unless a gradient
// is inf/NaN, scaler update. Returns whether the step was taken.
// `after_backward` (e.g. the data-parallel gradient all-reduce) runs between
// backward and unscaling.
template <typename Optimizer>
bool scaled_step(const at::Tensor& loss, LossScaler& scaler, Optimizer& optimizer,
                 const std::vector<at::Tensor>& params, const std::function<void()>& after_backward = {}) {
  optimizer.zero_grad(true);
  scaler.scale(loss).backward();
  if (after_backward) after_backward();
  const bool finite = scaler.unscale(gradients(params));
  if (finite) optimizer.step();
  scaler.update();
  return finite;
}

}  // namespace nairrcore::train
