#pragma once
// What both training loops share: the device, the precision and its loss
// scaler, the position in training, the data-parallel state, and the epoch
// loop itself (resumption, timing, the step callback's cadence, statistics
// reduced over ranks, validation), with each step replayed as a CUDA graph
// where that is possible.
#include <c10/core/Device.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "compat/torch_compat.h"
#include "data/batch_loader.h"
#include "distributed/data_parallel.h"
#include "train/epoch_stats.h"
#include "train/precision.h"
#include "train/step_graph.h"
#include "train/train_step.h"
#include "train/training_state.h"

namespace nairrcore::train {

class LoopBase {
 public:
  int64_t epochs_done() const { return progress_.epochs_done; }
  int64_t next_batch() const { return progress_.next_batch; }
  std::string precision() const { return precision_name(precision_); }
  // How the last fit() ran its steps: "on: captured ...", "off: <why>", "failed, eager: <error>".
  const std::string& cuda_graphs() const { return graph_status_; }
  // Data parallel over `group` (null: single process): fit() then takes a
  // shard of every global batch, averages gradients in buckets of `bucket_mb`
  // and reports statistics reduced over the ranks.
  void set_data_parallel(std::shared_ptr<dist::Group> group, double bucket_mb = 25.0) {
    dp_.configure(std::move(group), bucket_mb);
  }

 protected:
  // Parses device and precision (ConfigError naming them) and seeds torch.
  LoopBase(const std::string& device, const std::string& precision, uint64_t seed);
  // float32, bfloat16 or float16, as the precision says.
  at::ScalarType compute_dtype() const;
  // Autocast to the compute dtype for a forward pass (off for fp32).
  compat::AutocastScope autocast() const {
    return {device_.type(), precision_ != Precision::kFp32, compute_dtype()};
  }

  struct EpochHooks {
    std::function<void(int64_t epoch)> begin_epoch;  // optional
    // One batch (x, y on the device); calls run_step() for the optimiser step.
    std::function<void(const at::Tensor& x, const at::Tensor& y, int64_t batch)> step;
    std::function<void(int64_t epoch)> end_epoch;  // optional, inside the timed training
    std::function<void(EpochStats& st)> validate;  // fills the val_* fields
  };
  // Trains epochs progress_.epochs_done .. epochs-1 from `loader`. The step
  // callback runs after the first and last batch of every epoch and every
  // `callback_every` batches in between (each call takes Python's GIL).
  // `graphs_off`: why steps must not be captured ("" allows it).
  // Sets micro_ before each step (`accumulate` batches per optimiser step).
  std::vector<EpochStats> run_epochs(data::BatchLoader& loader, int64_t epochs, int64_t accumulate,
                                     const EpochHooks& hooks, bool cuda_graphs, const EpochCallback& on_epoch,
                                     const StepCallback& on_step, int64_t callback_every);
  // `train_step(x, y)` (forward, backward, optimiser step, loss sum: device
  // work only): replayed from a CUDA graph for full batches where capture is
  // on, else run as is.
  void run_step(const at::Tensor& x, const at::Tensor& y, bool full_batch,
                const std::function<void(const at::Tensor&, const at::Tensor&)>& train_step);
  // The parameters being trained changed: capture the step again.
  void invalidate_graph();
  // Adds a batch's loss x `weight` to the epoch's sum on the device; a
  // non-finite loss is counted instead, with its `samples`
  // (EpochStats::nonfinite_losses; train_loss is over the other batches).
  void add_loss(const at::Tensor& loss, double weight, int64_t samples);
  // Folds the device-side counters into progress_ (before a checkpoint).
  void sync_progress();
  // The step of the current batch: scaled_step(loss, scaler_, optimizer, grad_sync_, micro_).
  template <typename Optimizer>
  void optimizer_step(const at::Tensor& loss, Optimizer& optimizer) {
    scaled_step(loss, scaler_, optimizer, grad_sync_.get(), micro_);
  }

  c10::Device device_;
  Precision precision_;
  LossScaler scaler_;
  LoopProgress progress_;
  dist::DataParallel dp_;
  std::unique_ptr<dist::GradientSync> grad_sync_;  // set by a data-parallel fit()
  MicroBatch micro_;

 private:
  // Why steps cannot be captured in a CUDA graph now ("" when they can).
  std::string graphs_off(bool enabled, int64_t accumulate) const;

  std::unique_ptr<StepGraph> graph_;
  at::Tensor static_x_, static_y_;
  at::Tensor nonfinite_;  // float64 [2] on the device: batches, samples with a non-finite loss
  std::string graph_status_ = "off: not trained yet";
};

}  // namespace nairrcore::train
