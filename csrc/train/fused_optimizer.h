#pragma once
// AdamW and SGD (momentum, Nesterov) stepping every parameter of a group with
// ATen's fused multi-tensor kernels (_fused_adamw_, _fused_sgd_; CPU and
// CUDA): one or two launches per group instead of about ten per parameter
// tensor, the loss scaler's unscale and skip-on-inf folded in on the device,
// and on a GPU the learning rate and step counts in device tensors, so a step
// never waits for the host and can be captured in a CUDA graph. The state
// lives in the torch::optim optimiser each derives from (same keys, same
// serialisation), so checkpoints written before keep loading.
#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>

#include <unordered_map>
#include <vector>

namespace nairrcore::train {

// What both share: per-group learning rates as device tensors on a GPU.
class FusedLr {
 protected:
  // The group's learning rate as the kernels take it: a float32 tensor on a
  // GPU (undefined on the CPU, where the double is passed).
  const at::Tensor& lr_tensor(size_t group, double lr, const at::Tensor& like);
  void fill_lr(size_t group, double lr);

 private:
  std::vector<at::Tensor> lr_;
};

class FusedAdamW : public torch::optim::AdamW, private FusedLr {
 public:
  using torch::optim::AdamW::AdamW;
  torch::Tensor step(LossClosure closure = nullptr) override;
  // One step; with `grad_scale` and `found_inf` defined (the loss scaler's),
  // gradients are unscaled inside the kernel and nothing changes where
  // found_inf is set.
  void fused_step(const at::Tensor& grad_scale = {}, const at::Tensor& found_inf = {});
  void set_lr(size_t group, double lr);
  void save(torch::serialize::OutputArchive& archive) const override;
  void load(torch::serialize::InputArchive& archive) override;

 private:
  // Step counts as float32 tensors beside the parameters (the kernels read
  // them there); AdamWParamState::step is brought up to date before a save.
  std::unordered_map<void*, at::Tensor> steps_;
};

// Momentum buffers start at zero, so the first step (buffer = gradient, as
// torch's SGD does with dampening 0) needs no special case: a graph captures
// one step that serves every step, and a first step skipped on inf leaves a
// well-defined buffer.
class FusedSGD : public torch::optim::SGD, private FusedLr {
 public:
  FusedSGD(const std::vector<torch::optim::OptimizerParamGroup>& groups, torch::optim::SGDOptions defaults);
  torch::Tensor step(LossClosure closure = nullptr) override;
  void fused_step(const at::Tensor& grad_scale = {}, const at::Tensor& found_inf = {});
  void set_lr(size_t group, double lr);
};

}  // namespace nairrcore::train
