#pragma once
// Training and evaluation of the forecasting MLP: fused AdamW + SmoothL1, AMP
// (bf16, or fp16 with dynamic loss scaling) on GPU, fp32/bf16 on CPU, batches
// from a TabularLoader, each full batch's step replayed as a CUDA graph on a
// GPU, per-epoch statistics to a callback.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "data/tabular_loader.h"
#include "train/loop_base.h"
#include "train/epoch_stats.h"
#include "train/fused_optimizer.h"
#include "train/mlp.h"
#include "train/precision.h"
#include "train/training_state.h"

namespace nairrcore::train {

// Every value comes from Python's ForecastConfig (settings.to_core); no
// defaults here, so a value Python does not set is zero, never a second default.
struct FitConfig {
  int64_t epochs{};
  int64_t batch_size{};
  double lr{};
  double weight_decay{};
  double adam_beta1{}, adam_beta2{}, adam_eps{};
  double smooth_l1_beta{};
  int64_t eval_batch_size{};
  uint64_t seed{};
  std::string device;
  std::string precision;
  bool data_on_device{};  // GPU: keep the data resident (else stream it)
  int workers{};
  int prefetch{};
  int64_t accumulate{};  // micro-batches per optimiser step (data parallel: sync on the last)
  bool cuda_graphs{};  // GPU: replay each full batch's step from a CUDA graph
  void validate() const;
};

struct RegressionMetrics {
  std::vector<double> mae, rmse;   // per target
  at::Tensor city_mae, city_rmse;  // [cities, targets] float64
  at::Tensor city_count;           // [cities] int64
  int64_t rows = 0;
};

class ForecastTrainer : public LoopBase {
 public:
  ForecastTrainer(const MlpConfig& model, const FitConfig& fit);

  std::vector<EpochStats> fit(const at::Tensor& train_x, const at::Tensor& train_y,
                              const at::Tensor& val_x, const at::Tensor& val_y,
                              const EpochCallback& on_epoch = {}, const StepCallback& on_step = {},
                              int64_t callback_every = 1);
  // Predictions in original units, float32 on the CPU (batches of eval_batch_size).
  at::Tensor predict(const at::Tensor& x);
  // Mean SmoothL1 loss over all rows and targets.
  double loss(const at::Tensor& x, const at::Tensor& y);
  RegressionMetrics evaluate(const at::Tensor& x, const at::Tensor& y, const at::Tensor& city,
                             int64_t num_cities);

  std::map<std::string, at::Tensor> state_dict() const;
  void load_state_dict(const std::map<std::string, at::Tensor>& state);
  int64_t num_parameters() const { return model_->num_parameters(); }
  // GPU: keep the training rows on the device in the next fit() (decided once the data is known).
  void set_data_on_device(bool resident) { config_.data_on_device = resident; }
  // Full training state (model, optimiser, scaler, position in the epoch) as
  // bytes, and its restoration: fit() then continues where the state was taken.
  std::string save_state();
  void load_state(const std::string& blob);

 private:
  at::Tensor forward(const at::Tensor& x);
  // Forward, loss, backward and optimiser step of one batch, and the loss sum
  // (device work only: it may be captured in a CUDA graph).
  void train_step(const at::Tensor& x, const at::Tensor& y);

  MlpConfig model_config_;
  FitConfig config_;
  Mlp model_{nullptr};
  std::unique_ptr<FusedAdamW> optimizer_;
};

}  // namespace nairrcore::train
