#pragma once
// Everything a training loop needs to continue bit for bit after a restart:
// model, optimiser, loss scaler, the position inside the epoch in progress
// and that epoch's partial statistics, plus loop-specific tensors (e.g. the
// lookahead weights). Serialised with torch's archive format into bytes that
// Python stores in a checksummed checkpoint file. RNG states are saved by
// Python (the generators are process-wide and shared with this core).
#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include <string>
#include <vector>

#include "train/epoch_stats.h"
#include "train/precision.h"

namespace nairrcore::train {

struct LoopProgress {
  int64_t epochs_done = 0;  // completed epochs
  int64_t next_batch = 0;   // next batch of epoch `epochs_done` (0: at its start)
  // Partial statistics of the epoch in progress.
  double train_sec = 0, wait_sec = 0;
  int64_t samples = 0, skipped = 0;
  int64_t nonfinite = 0, nonfinite_samples = 0;  // batches (and their samples) whose loss was inf/NaN
  at::Tensor loss_total;  // float64 scalar on the device, zeroed in place per epoch
  void start_epoch(int64_t epoch);
  // The finished epoch's statistics on this process (train_sec measured by the loop).
  EpochStats epoch_stats(int64_t epoch, double train_sec, const LossScaler& scaler) const;
};

std::string save_training_state(const torch::nn::Module& model, const torch::optim::Optimizer& optimizer,
                                 const LossScaler& scaler, const LoopProgress& progress,
                                 const std::vector<at::Tensor>& extra = {});

// Restores in place; `extra` must hold as many tensors as were saved (it is
// resized and filled). ConfigError when the blob does not fit the model.
void load_training_state(const std::string& blob, torch::nn::Module& model, torch::optim::Optimizer& optimizer,
                         LossScaler& scaler, LoopProgress& progress, std::vector<at::Tensor>& extra);

}  // namespace nairrcore::train
