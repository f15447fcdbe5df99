#pragma once
// Data-parallel gradient averaging. Parameters are packed, in reverse order
// (roughly the order backward produces their gradients), into flat buckets of
// about `bucket_mb`; a gradient hook copies each gradient into its bucket and
// the bucket's all-reduce starts as soon as its last gradient arrives, so
// communication overlaps the rest of backward. finish() waits for them and
// writes the averages back into .grad.
#include <ATen/ATen.h>

#include <memory>
#include <mutex>
#include <vector>

#include "distributed/group.h"

namespace nairrcore::dist {

class GradientSync {
 public:
  GradientSync(std::vector<at::Tensor> params, Group& group, double bucket_mb);
  ~GradientSync();
  GradientSync(const GradientSync&) = delete;
  GradientSync& operator=(const GradientSync&) = delete;

  // Off for the micro-steps of gradient accumulation that should not communicate.
  void set_enabled(bool enabled) { enabled_ = enabled; }
  // After backward: launch what is still pending, wait, average into .grad.
  void finish();

 private:
  struct Slot {
    size_t bucket;
    int64_t offset, numel;
  };
  struct Bucket {
    at::Tensor flat;
    std::vector<size_t> params;
    size_t pending = 0;
    std::shared_ptr<void> work;
  };
  void on_grad(size_t param, const at::Tensor& grad);
  void launch(Bucket& b);

  std::vector<at::Tensor> params_;
  std::vector<Slot> slots_;
  std::vector<Bucket> buckets_;
  std::vector<unsigned> hooks_;
  Group& group_;
  std::mutex mutex_;
  bool enabled_ = true;
};

}  // namespace nairrcore::dist
