#include "train/forecast_trainer.h"

#include <cmath>

#include <ATen/Context.h>
#include <ATen/record_function.h>
#include <torch/nn/functional/loss.h>
#include <torch/utils.h>


#include "common/cpu_block_cache.h"
#include "common/errors.h"
#include "train/device.h"
#include "train/module_state.h"
#include "train/training_state.h"

namespace nairrcore::train {

namespace F = torch::nn::functional;

void FitConfig::validate() const {
  NAIRR_CHECK_ARG(epochs >= 0, "epochs: expected >= 0, got " + std::to_string(epochs));
  NAIRR_CHECK_ARG(batch_size >= 1, "batch_size: expected >= 1, got " + std::to_string(batch_size));
  NAIRR_CHECK_ARG(accumulate >= 1, "accumulate: expected >= 1, got " + std::to_string(accumulate));
  NAIRR_CHECK_ARG(lr > 0, "lr: expected > 0, got " + std::to_string(lr));
  NAIRR_CHECK_ARG(weight_decay >= 0, "weight_decay: expected >= 0, got " + std::to_string(weight_decay));
  NAIRR_CHECK_ARG(adam_beta1 >= 0 && adam_beta1 < 1 && adam_beta2 >= 0 && adam_beta2 < 1,
                  "adam_beta1, adam_beta2: expected 0 <= beta < 1");
  NAIRR_CHECK_ARG(adam_eps > 0, "adam_eps: expected > 0");
  NAIRR_CHECK_ARG(smooth_l1_beta > 0, "smooth_l1_beta: expected > 0");
  NAIRR_CHECK_ARG(eval_batch_size >= 1, "eval_batch_size: expected >= 1");
}

ForecastTrainer::ForecastTrainer(const MlpConfig& model, const FitConfig& fit)
    : LoopBase(fit.device, fit.precision, fit.seed), model_config_(model), config_(fit) {
  config_.validate();
  model_ = Mlp(model_config_);
  model_->to(device_);
  optimizer_ = std::make_unique<FusedAdamW>(
      model_->parameters(), torch::optim::AdamWOptions(config_.lr)
                                .weight_decay(config_.weight_decay)
                                .betas({config_.adam_beta1, config_.adam_beta2})
                                .eps(config_.adam_eps));
}

at::Tensor ForecastTrainer::forward(const at::Tensor& x) {
  RECORD_FUNCTION("nairrcore::forward", std::vector<c10::IValue>());
  auto scope = autocast();
  return model_->forward(x);
}

void ForecastTrainer::train_step(const at::Tensor& x, const at::Tensor& y) {
  auto loss = F::smooth_l1_loss(forward(x).to(at::kFloat), y,
                                F::SmoothL1LossFuncOptions().reduction(torch::kMean).beta(config_.smooth_l1_beta));
  optimizer_step(loss, *optimizer_);
  add_loss(loss, static_cast<double>(x.size(0)), x.size(0));
}

std::vector<EpochStats> ForecastTrainer::fit(const at::Tensor& train_x, const at::Tensor& train_y,
                                             const at::Tensor& val_x, const at::Tensor& val_y,
                                             const EpochCallback& on_epoch, const StepCallback& on_step,
                                             int64_t callback_every) {
  NAIRR_CHECK_ARG(train_x.dim() == 2 && train_x.size(1) == model_config_.inputs,
                  "train_x: expected shape [rows, " + std::to_string(model_config_.inputs) +
                      "], got " + c10::str(train_x.sizes()));
  NAIRR_CHECK_ARG(train_y.dim() == 2 && train_y.size(1) == model_config_.outputs,
                  "train_y: expected shape [rows, " + std::to_string(model_config_.outputs) +
                      "], got " + c10::str(train_y.sizes()));
  CpuBlockCacheScope block_cache(device_.is_cpu());
  data::LoaderOptions lo;
  lo.batch_size = dp_.local_batch(config_.batch_size);
  if (dp_) lo.shard = data::ShardSpec{dp_.group->rank(), dp_.group->size()};
  lo.shuffle = true;
  lo.seed = config_.seed;
  lo.workers = config_.workers;
  lo.prefetch = config_.prefetch;
  const bool resident = device_.is_cuda() && config_.data_on_device;
  data::TabularLoader loader(resident ? train_x.to(device_) : train_x,
                             resident ? train_y.to(device_) : train_y, device_, lo);
  dp_.sync_weights(*model_);
  grad_sync_ = dp_.gradient_sync(model_->parameters());
  const int64_t full = lo.batch_size;
  EpochHooks hooks;
  hooks.begin_epoch = [&](int64_t) { model_->train(); };
  hooks.step = [&](const at::Tensor& x, const at::Tensor& y, int64_t) {
    run_step(x, y, x.size(0) == full, [&](const at::Tensor& sx, const at::Tensor& sy) { train_step(sx, sy); });
  };
  hooks.validate = [&](EpochStats& st) {
    dp_.sync_buffers(*model_);
    st.val_samples = val_x.size(0);
    st.val_loss = val_x.size(0) > 0 ? loss(val_x, val_y) : std::nan("");
  };
  return run_epochs(loader, config_.epochs, config_.accumulate, hooks, config_.cuda_graphs, on_epoch, on_step,
                    callback_every);
}

at::Tensor ForecastTrainer::predict(const at::Tensor& x) {
  const int64_t batch_size = config_.eval_batch_size;
  torch::NoGradGuard no_grad;
  model_->eval();
  std::vector<at::Tensor> parts;
  for (int64_t i = 0; i < x.size(0); i += batch_size) {
    auto xb = x.narrow(0, i, std::min(batch_size, x.size(0) - i)).to(device_, /*non_blocking=*/true);
    parts.push_back(forward(xb).to(at::kFloat).to(at::kCPU));
  }
  if (parts.empty()) return at::empty({0, model_config_.outputs}, at::kFloat);
  return at::cat(parts);
}

double ForecastTrainer::loss(const at::Tensor& x, const at::Tensor& y) {
  const int64_t batch_size = config_.eval_batch_size;
  torch::NoGradGuard no_grad;
  model_->eval();
  auto total = at::zeros({}, at::TensorOptions().device(device_).dtype(at::kDouble));
  // Data parallel: each rank takes a contiguous share of the rows; sums are reduced.
  const int64_t rows = x.size(0);
  const int64_t begin = dp_ ? rows * dp_.group->rank() / dp_.group->size() : 0;
  const int64_t end = dp_ ? rows * (dp_.group->rank() + 1) / dp_.group->size() : rows;
  for (int64_t i = begin; i < end; i += batch_size) {
    const int64_t n = std::min(batch_size, end - i);
    auto xb = x.narrow(0, i, n).to(device_, true);
    auto yb = y.narrow(0, i, n).to(device_, true);
    total += F::smooth_l1_loss(forward(xb).to(at::kFloat), yb,
                               F::SmoothL1LossFuncOptions().reduction(torch::kSum).beta(config_.smooth_l1_beta))
                 .to(at::kDouble);
  }
  double sum = total.item<double>();
  if (dp_) sum = dp_.sum({sum}, device_)[0];
  // A loss over no rows is undefined, never 0 (a perfect score).
  return y.numel() > 0 ? sum / static_cast<double>(y.numel()) : std::nan("");
}

RegressionMetrics ForecastTrainer::evaluate(const at::Tensor& x, const at::Tensor& y,
                                            const at::Tensor& city, int64_t num_cities) {
  NAIRR_CHECK_ARG(x.size(0) == y.size(0) && y.size(0) == city.size(0),
                  "evaluate: x, y and city must have the same number of rows");
  RegressionMetrics m;
  m.rows = x.size(0);
  auto err = predict(x).to(at::kDouble) - y.to(at::kDouble).cpu();
  auto abs_err = err.abs();
  auto sq_err = err * err;
  const int64_t T = y.size(1);
  auto idx = city.cpu().to(at::kLong);
  auto sum_abs = at::zeros({num_cities, T}, at::kDouble).index_add_(0, idx, abs_err);
  auto sum_sq = at::zeros({num_cities, T}, at::kDouble).index_add_(0, idx, sq_err);
  m.city_count = at::zeros({num_cities}, at::kLong).index_add_(0, idx, at::ones_like(idx));
  // Metrics over no rows are undefined: NaN (0 / 0), never 0, a perfect score.
  auto denom = m.city_count.to(at::kDouble).unsqueeze(1);
  m.city_mae = sum_abs / denom;
  m.city_rmse = (sum_sq / denom).sqrt();
  const auto n = static_cast<double>(m.rows);
  for (int64_t t = 0; t < T; ++t) {
    m.mae.push_back(m.rows > 0 ? abs_err.select(1, t).sum().item<double>() / n : std::nan(""));
    m.rmse.push_back(m.rows > 0 ? std::sqrt(sq_err.select(1, t).sum().item<double>() / n) : std::nan(""));
  }
  return m;
}

std::string ForecastTrainer::save_state() {
  sync_progress();
  return save_training_state(*model_, *optimizer_, scaler_, progress_);
}

void ForecastTrainer::load_state(const std::string& blob) {
  std::vector<at::Tensor> extra;
  load_training_state(blob, *model_, *optimizer_, scaler_, progress_, extra);
}

std::map<std::string, at::Tensor> ForecastTrainer::state_dict() const {
  return module_state(*model_);
}

void ForecastTrainer::load_state_dict(const std::map<std::string, at::Tensor>& state) {
  load_module_state(*model_, state);
}

}  // namespace nairrcore::train
