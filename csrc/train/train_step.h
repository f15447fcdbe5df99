#pragma once
// The optimiser step both loops take after a (micro-)batch's forward pass:
// backward of the scaled loss and, on the last micro-batch of a step, the
// data-parallel gradient all-reduce, the loss scaler's inf check, the fused
// optimiser step (unscaling inside, skipping on inf) and the scaler update.
// All of it is device work: nothing waits for the GPU, so the whole step can
// be captured in a CUDA graph.
#include <ATen/record_function.h>
#include <torch/optim/optimizer.h>

#include <vector>

#include "distributed/grad_sync.h"
#include "train/precision.h"

namespace nairrcore::train {

// Where a batch sits in an optimiser step that accumulates `accumulate` batches.
struct MicroBatch {
  bool first = true, last = true;
  int64_t accumulate = 1;
  static MicroBatch of(int64_t batch, int64_t batches, int64_t accumulate) {
    return {batch % accumulate == 0, batch % accumulate == accumulate - 1 || batch + 1 == batches, accumulate};
  }
};

// Gradients of every parameter the optimiser holds that has one.
std::vector<at::Tensor> optimizer_gradients(const torch::optim::Optimizer& optimizer);

// Optimizer: FusedAdamW or FusedSGD. `sync`: the data-parallel gradient
// all-reduce, or null.
template <typename Optimizer>
void scaled_step(const at::Tensor& loss, LossScaler& scaler, Optimizer& optimizer, dist::GradientSync* sync,
                 const MicroBatch& micro) {
  if (micro.first) optimizer.zero_grad(true);
  if (sync) sync->set_enabled(micro.last);
  {
    RECORD_FUNCTION("nairrcore::backward", std::vector<c10::IValue>());
    scaler.scale(micro.accumulate > 1 ? loss / static_cast<double>(micro.accumulate) : loss).backward();
  }
  if (!micro.last) return;
  if (sync) {
    RECORD_FUNCTION("nairrcore::gradient_sync", std::vector<c10::IValue>());
    sync->finish();
  }
  RECORD_FUNCTION("nairrcore::optimizer", std::vector<c10::IValue>());
  if (scaler.enabled()) {
    scaler.check(optimizer_gradients(optimizer));
    optimizer.fused_step(scaler.scale_tensor(), scaler.found_inf());
  } else {
    optimizer.fused_step();
  }
  scaler.update();
}

}  // namespace nairrcore::train
