#include "distributed/grad_sync.h"

#include "common/errors.h"

namespace nairrcore::dist {

GradientSync::GradientSync(std::vector<at::Tensor> params, Group& group, double bucket_mb)
    : params_(std::move(params)), group_(group) {
  NAIRR_CHECK_ARG(bucket_mb > 0, "bucket_mb: expected > 0, got " + std::to_string(bucket_mb));
  const int64_t cap = static_cast<int64_t>(bucket_mb * 1024 * 1024);
  slots_.resize(params_.size());
  int64_t bytes = 0;
  for (size_t k = params_.size(); k-- > 0;) {
    const auto& p = params_[k];
    if (!p.requires_grad()) continue;
    const int64_t b = p.numel() * p.element_size();
    if (buckets_.empty() || (bytes > 0 && bytes + b > cap)) {
      buckets_.emplace_back();
      bytes = 0;
    }
    Bucket& bucket = buckets_.back();
    slots_[k] = {buckets_.size() - 1, 0, p.numel()};  // offsets assigned below
    bucket.params.push_back(k);
    bytes += b;
  }
  for (auto& bucket : buckets_) {
    int64_t n = 0;
    for (size_t k : bucket.params) n += params_[k].numel();
    bucket.flat = at::zeros({n}, params_[bucket.params.front()].options().requires_grad(false));
  }
  for (auto& bucket : buckets_) {
    int64_t offset = 0;
    for (size_t k : bucket.params) {
      slots_[k].offset = offset;
      offset += params_[k].numel();
    }
    bucket.pending = bucket.params.size();
  }
  hooks_.assign(params_.size(), 0);
  for (size_t k = 0; k < params_.size(); ++k) {
    if (!params_[k].requires_grad()) continue;
    hooks_[k] = params_[k].register_hook([this, k](const at::Tensor& grad) { on_grad(k, grad); });
  }
}

GradientSync::~GradientSync() {
  for (size_t k = 0; k < params_.size(); ++k) {
    if (params_[k].requires_grad()) params_[k].remove_hook(hooks_[k]);
  }
}

void GradientSync::on_grad(size_t k, const at::Tensor& grad) {
  if (!enabled_) return;
  std::lock_guard<std::mutex> lock(mutex_);
  const Slot& s = slots_[k];
  Bucket& b = buckets_[s.bucket];
  auto slot = b.flat.narrow(0, s.offset, s.numel).view(grad.sizes());
  slot.copy_(grad);
  // Accumulating micro-batches: .grad already holds the earlier ones (hooks
  // see the new gradient before it is added).
  if (params_[k].grad().defined()) slot.add_(params_[k].grad().view(grad.sizes()));
  if (--b.pending == 0) launch(b);
}

void GradientSync::launch(Bucket& b) { b.work = group_.allreduce_sum_async(b.flat); }

void GradientSync::finish() {
  if (!enabled_) return;
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& b : buckets_) {
    if (!b.work) launch(b);  // a parameter without a gradient this step: its slot holds zeros
  }
  const double inv = 1.0 / group_.size();
  for (auto& b : buckets_) {
    group_.wait(b.work, "gradient all-reduce");
    b.work.reset();
    b.flat.mul_(inv);
    for (size_t k : b.params) {
      auto& p = params_[k];
      const Slot& s = slots_[k];
      auto avg = b.flat.narrow(0, s.offset, s.numel).view(p.sizes());
      if (p.grad().defined()) {
        p.mutable_grad().copy_(avg);
      } else {
        p.mutable_grad() = avg.clone();
      }
    }
    b.flat.zero_();
    b.pending = b.params.size();
  }
}

}  // namespace nairrcore::dist
