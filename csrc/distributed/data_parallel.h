#pragma once
// What both training loops do differently when data parallel: broadcast the
// starting weights, shard the batch, average gradients, and reduce the
// epoch's statistics over the ranks.
#include <torch/nn/module.h>

#include <memory>
#include <vector>

#include "distributed/grad_sync.h"
#include "distributed/group.h"

namespace nairrcore::dist {

struct DataParallel {
  std::shared_ptr<Group> group;  // null: single process
  double bucket_mb = 25.0;
  bool weights_synced = false;

  explicit operator bool() const { return group != nullptr; }
  void configure(std::shared_ptr<Group> g, double mb);
  // Per-rank batch for a global batch; ConfigError unless it divides evenly.
  int64_t local_batch(int64_t global_batch) const;
  // Rank 0's parameters and buffers everywhere (once per trainer).
  void sync_weights(torch::nn::Module& model);
  // Rank 0's buffers (BatchNorm statistics) everywhere, before evaluation.
  void sync_buffers(torch::nn::Module& model);
  std::unique_ptr<GradientSync> gradient_sync(const std::vector<at::Tensor>& params);
  // Sums `values` over the ranks (float64 on the CPU).
  std::vector<double> sum(const std::vector<double>& values, c10::Device device);
};

}  // namespace nairrcore::dist
