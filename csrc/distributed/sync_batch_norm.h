#pragma once
// BatchNorm2d whose training-mode statistics can span every rank of a
// data-parallel group (SyncBatchNorm): the per-channel sums are all-reduced
// in the forward pass and their gradients in the backward pass, so N ranks
// with batch B train exactly like one process with batch N*B. Without a group
// (or in evaluation) it is torch's BatchNorm2d, with the same state names.
#include <torch/nn/modules/batchnorm.h>

#include <memory>

#include "distributed/group.h"

namespace nairrcore::dist {

class SyncBatchNorm2dImpl : public torch::nn::BatchNorm2dImpl {
 public:
  using torch::nn::BatchNorm2dImpl::BatchNorm2dImpl;
  at::Tensor forward(const at::Tensor& x);
  void set_group(std::shared_ptr<Group> group) { group_ = std::move(group); }

 private:
  at::Tensor forward_synced(const at::Tensor& x);
  std::shared_ptr<Group> group_;
};
TORCH_MODULE(SyncBatchNorm2d);

// Every SyncBatchNorm2d in `model` takes its statistics over `group` (null: local).
void sync_batch_norm_over(torch::nn::Module& model, const std::shared_ptr<Group>& group);

}  // namespace nairrcore::dist
