#pragma once
// The c10d process group the training loops use (NCCL on GPU, Gloo on CPU).
// It is created by torch.distributed (TCPStore rendezvous from the torchrun
// or Slurm environment) and looked up here by name in c10d's group registry,
// so the core and Python share one group. Collectives block with a timeout;
// a peer that died or never arrived becomes a DistError, not a hang.
#include <ATen/ATen.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace c10d {
class ProcessGroup;
class Work;
}  // namespace c10d

namespace nairrcore::dist {

class DistError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Group {
 public:
  Group(const std::string& name, std::chrono::milliseconds timeout);
  int rank() const { return rank_; }
  int size() const { return size_; }
  std::chrono::milliseconds timeout() const { return timeout_; }

  void broadcast_(std::vector<at::Tensor>& tensors, int root = 0);
  void allreduce_sum_(std::vector<at::Tensor>& tensors);
  // Starts a sum all-reduce of one tensor; wait() on the result.
  std::shared_ptr<void> allreduce_sum_async(at::Tensor& tensor);
  void wait(const std::shared_ptr<void>& work, const char* what);

 private:
  std::shared_ptr<void> pg_;  // c10::intrusive_ptr<c10d::ProcessGroup>, kept opaque here
  int rank_ = 0, size_ = 1;
  std::chrono::milliseconds timeout_;
};

}  // namespace nairrcore::dist
