#pragma once
// Device parsing and synchronisation shared by the training loops.
#include <c10/core/Device.h>

#include <string>

namespace nairrcore::train {

// "cpu", "cuda" (the current GPU), "cuda:N"; always with an index for a GPU.
// ConfigError when a GPU is asked for but none is visible.
c10::Device parse_device(const std::string& name);
void synchronize_device(const c10::Device& device);

}  // namespace nairrcore::train
