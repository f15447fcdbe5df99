#pragma once
// Module state as a name -> tensor map (parameters and buffers, on the CPU),
// the format both trainers save and Python's torch.load reads.
#include <ATen/record_function.h>
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
// One (micro-)batch of an optimiser step: backward of the scaled loss and, on
// the last micro-batch of a step that accumulates `accumulate` of them,
// `after_backward` (e.g. the data-parallel gradient all-reduce), unscaling,
// the optimiser step unless a gradient is inf/NaN, and the scaler update.
// Returns false only when a step was skipped.
template <typename Optimizer>
bool scaled_step(const at::Tensor& loss, LossScaler& scaler, Optimizer& optimizer,
                 const std::vector<at::Tensor>& params, const std::function<void()>& after_backward = {},
                 bool first_micro = true, bool last_micro = true, int accumulate = 1) {
  if (first_micro) optimizer.zero_grad(true);
  {
    RECORD_FUNCTION("nairrcore::backward", std::vector<c10::IValue>());
    scaler.scale(accumulate > 1 ? loss / static_cast<double>(accumulate) : loss).backward();
  }
  if (!last_micro) return true;
  if (after_backward) {
    RECORD_FUNCTION("nairrcore::gradient_sync", std::vector<c10::IValue>());
    after_backward();
  }
  RECORD_FUNCTION("nairrcore::optimizer", std::vector<c10::IValue>());
  const bool finite = scaler.unscale(gradients(params));
  if (finite) optimizer.step();
  scaler.update();
  return finite;
}

}  // namespace nairrcore::train
