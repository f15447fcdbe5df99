#pragma once
// BatchNorm2d whose training-mode statistics can span every rank of a
// data-parallel group (SyncBatchNorm): the per-channel sums are all-reduced
// in the forward pass and their gradients in the backward pass, so N ranks
// with batch B train exactly like one process with batch N*B. Without a group
// (or in evaluation) it is torch's BatchNorm2d, with the same state names.
#include <torch/nn/modules/batchnorm.h>

#include <memory>
#include <string>

#include "distributed/group.h"

namespace nairrcore::dist {

class SyncBatchNorm2dImpl : public torch::nn::BatchNorm2dImpl {
 public:
  using torch::nn::BatchNorm2dImpl::BatchNorm2dImpl;
  at::Tensor forward(const at::Tensor& x);
  void set_group(std::shared_ptr<Group> group) { group_ = std::move(group); }

 private:
  at::Tensor forward_synced(const at::Tensor& x);
  bool takes_cudnn_bf16(const at::Tensor& x) const;
  std::shared_ptr<Group> group_;
};
TORCH_MODULE(SyncBatchNorm2d);

// Training in bf16 on a GPU, torch sends BatchNorm to its own kernels (it
// uses cuDNN for fp16 and fp32 only); cuDNN's channels-last kernels also take
// bf16 and run faster. Whether they do here is tried once per process and
// checked against torch's result; without a group, a training-mode
// SyncBatchNorm2d then calls cuDNN for bf16. For run records: "untried",
// "on" or "off: <why>".
std::string cudnn_bf16_batch_norm_status();

// Every SyncBatchNorm2d in `model` takes its statistics over `group` (null: local).
void sync_batch_norm_over(torch::nn::Module& model, const std::shared_ptr<Group>& group);

}  // namespace nairrcore::dist
