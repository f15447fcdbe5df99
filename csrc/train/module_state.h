#pragma once
// Module state as a name -> tensor map (parameters and buffers, on the CPU),
// the format both trainers save and Python's torch.load reads.
#include <torch/nn/module.h>

#include <map>
#include <string>


namespace nairrcore::train {

std::map<std::string, at::Tensor> module_state(const torch::nn::Module& module);
// ConfigError naming the key on a missing, unexpected or mis-shaped entry.
void load_module_state(torch::nn::Module& module, const std::map<std::string, at::Tensor>& state);

}  // namespace nairrcore::train
