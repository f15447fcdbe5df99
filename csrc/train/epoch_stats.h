#pragma once
// What every training loop reports after an epoch, and the callbacks it calls.
#include <cmath>
#include <cstdint>
#include <functional>
#include <vector>

namespace nairrcore::train {

struct EpochStats {
  int64_t epoch = 0;
  double train_loss = 0, val_loss = 0;
  double val_accuracy = std::nan("");  // classification only
  int64_t val_samples = 0;  // rows or images validated (0: no validation set; val_* are NaN)
  double train_sec = 0, val_sec = 0;
  int64_t train_samples = 0;
  double samples_per_sec = 0;
  double data_wait_sec = 0;  // time the loop waited for the loader
  double loss_scale = 1;
  int64_t skipped_steps = 0;     // fp16: steps skipped on an inf/NaN gradient
  int64_t nonfinite_losses = 0;  // batches whose loss was inf/NaN (left out of train_loss)
  std::vector<double> rank_train_sec;  // data parallel: every rank's train time
};

using EpochCallback = std::function<void(const EpochStats&)>;
// Called after every step with (epoch, batch, batches); may throw to abort.
using StepCallback = std::function<void(int64_t, int64_t, int64_t)>;

// Whether the step callback runs after batch `batch` (1-based) of `batches`:
// the first and the last of every epoch, and every `every`-th. A call takes
// Python's GIL, so on a GPU it comes every few dozen steps, not every step.
inline bool step_callback_due(int64_t batch, int64_t batches, int64_t every) {
  return batch == 1 || batch == batches || (every > 0 && batch % every == 0);
}

}  // namespace nairrcore::train
