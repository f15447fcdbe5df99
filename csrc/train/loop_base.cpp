#include "train/loop_base.h"

#include <ATen/record_function.h>
#include <torch/utils.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "train/device.h"

namespace nairrcore::train {

using Clock = std::chrono::steady_clock;

namespace {
double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}
// Global loss and sample count, and every rank's train time, into `st`.
void reduce_over_ranks(dist::DataParallel& dp, EpochStats& st, double loss_total, c10::Device device) {
  if (!dp) return;
  const int n = dp.group->size();
  std::vector<double> v(2 + n, 0.0);
  v[0] = loss_total;
  v[1] = static_cast<double>(st.train_samples);
  v[2 + dp.group->rank()] = st.train_sec;
  auto total = dp.sum(v, device);
  st.train_samples = static_cast<int64_t>(total[1]);
  st.train_loss = total[0] / std::max(total[1], 1.0);
  st.rank_train_sec.assign(total.begin() + 2, total.end());
  st.train_sec = *std::max_element(st.rank_train_sec.begin(), st.rank_train_sec.end());
  st.samples_per_sec = st.train_samples / std::max(st.train_sec, 1e-12);
}
}  // namespace

LoopBase::LoopBase(const std::string& device, const std::string& precision, uint64_t seed)
    : device_(parse_device(device)),
      precision_(parse_precision(precision, device_)),
      scaler_(precision_ == Precision::kFp16, device_) {
  torch::manual_seed(seed);
}

at::ScalarType LoopBase::compute_dtype() const {
  switch (precision_) {
    case Precision::kFp16: return at::kHalf;
    case Precision::kBf16: return at::kBFloat16;
    default: return at::kFloat;
  }
}

void LoopBase::run_step(const at::Tensor& x, const at::Tensor& y, bool full_batch,
                        const std::function<void(const at::Tensor&, const at::Tensor&)>& train_step) {
  if (!full_batch || !graph_ || !graph_->active()) {
    train_step(x, y);
    return;
  }
  if (!static_x_.defined()) {
    static_x_ = at::empty_like(x);
    static_y_ = at::empty_like(y);
  }
  static_x_.copy_(x, /*non_blocking=*/true);
  static_y_.copy_(y, /*non_blocking=*/true);
  graph_->run([&] { train_step(static_x_, static_y_); });
}

void LoopBase::invalidate_graph() {
  if (graph_) graph_->invalidate();
}

void LoopBase::add_loss(const at::Tensor& loss, double weight, int64_t samples) {
  auto l = loss.detach().to(at::kDouble).reshape({});
  auto finite = at::isfinite(l);
  progress_.loss_total.add_(at::where(finite, l, at::zeros_like(l)), weight);
  auto bad = at::logical_not(finite).to(at::kDouble);
  nonfinite_.add_(at::stack({bad, bad * static_cast<double>(samples)}));
}

void LoopBase::sync_progress() {
  progress_.skipped += scaler_.take_skipped();
  if (nonfinite_.defined()) {
    auto counts = nonfinite_.cpu();
    progress_.nonfinite += static_cast<int64_t>(counts[0].item<double>());
    progress_.nonfinite_samples += static_cast<int64_t>(counts[1].item<double>());
    nonfinite_.zero_();
  }
}

std::string LoopBase::graphs_off(bool enabled, int64_t accumulate) const {
  if (!enabled) return "turned off (cuda_graphs=false)";
  if (dp_) return "data parallel (collectives run between the steps)";
  if (accumulate > 1) return "gradient accumulation";
  return "";
}

std::vector<EpochStats> LoopBase::run_epochs(data::BatchLoader& loader, int64_t epochs, int64_t accumulate,
                                             const EpochHooks& hooks, bool cuda_graphs,
                                             const EpochCallback& on_epoch, const StepCallback& on_step,
                                             int64_t callback_every) {
  graph_ = std::make_unique<StepGraph>(device_, graphs_off(cuda_graphs, accumulate));
  static_x_ = static_y_ = at::Tensor();
  std::vector<EpochStats> history;
  const int64_t batches = loader.num_batches();
  // The loss sum lives as long as the loop (a captured step adds to it).
  const auto scalar = at::TensorOptions().device(device_).dtype(at::kDouble);
  if (!progress_.loss_total.defined()) progress_.loss_total = at::zeros({}, scalar);
  if (!nonfinite_.defined()) nonfinite_ = at::zeros({2}, scalar);
  try {
    for (int64_t e = progress_.epochs_done; e < epochs; ++e) {
      if (progress_.next_batch == 0) progress_.start_epoch(e);
      if (hooks.begin_epoch) hooks.begin_epoch(e);
      loader.set_epoch(e);
      if (progress_.next_batch > 0) loader.load_state({loader.options().seed, e, progress_.next_batch});
      synchronize_device(device_);
      const auto t0 = Clock::now();
      const double carried_sec = progress_.train_sec;
      data::Batch batch;
      while (true) {
        const auto w0 = Clock::now();
        {
          RECORD_FUNCTION("nairrcore::data_wait", std::vector<c10::IValue>());
          if (!loader.next(batch)) break;
        }
        progress_.wait_sec += seconds_since(w0);
        const auto& x = batch.x.device() == device_ ? batch.x : batch.x.to(device_, /*non_blocking=*/true);
        const auto& y = batch.y.device() == device_ ? batch.y : batch.y.to(device_, /*non_blocking=*/true);
        micro_ = MicroBatch::of(batch.index, batches, accumulate);
        hooks.step(x, y, batch.index);
        progress_.samples += x.size(0);
        progress_.next_batch = batch.index + 1;
        progress_.train_sec = carried_sec + seconds_since(t0);
        if (on_step && step_callback_due(batch.index + 1, batches, callback_every))
          on_step(e, batch.index + 1, batches);
      }
      if (hooks.end_epoch) hooks.end_epoch(e);
      synchronize_device(device_);
      sync_progress();
      EpochStats st = progress_.epoch_stats(e, carried_sec + seconds_since(t0), scaler_);
      reduce_over_ranks(dp_, st, progress_.loss_total.item<double>(), device_);
      const auto v0 = Clock::now();
      hooks.validate(st);
      st.val_sec = seconds_since(v0);
      progress_.start_epoch(e + 1);
      graph_status_ = graph_->status();
      history.push_back(st);
      if (on_epoch) on_epoch(st);
    }
  } catch (...) {
    graph_status_ = graph_->status();
    grad_sync_.reset();
    throw;
  }
  graph_status_ = graph_->status();
  grad_sync_.reset();
  return history;
}

}  // namespace nairrcore::train
