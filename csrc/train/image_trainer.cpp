#include "train/image_trainer.h"

#include <ATen/record_function.h>
#include <torch/nn/functional/loss.h>
#include <torch/utils.h>

#include <cmath>

#include "common/cpu_block_cache.h"
#include "common/errors.h"
#include "data/image_loader.h"
#include "train/device.h"
#include "train/module_state.h"
#include "train/training_state.h"

namespace nairrcore::train {

namespace F = torch::nn::functional;
namespace {
void check_images(const at::Tensor& images, const at::Tensor& labels, const std::string& what) {
  NAIRR_CHECK_ARG(images.dim() == 4 && images.size(1) == 3 && images.size(2) == 32 &&
                      images.size(3) == 32 && images.scalar_type() == at::kByte,
                  what + ": expected uint8 images [N, 3, 32, 32], got " + c10::str(images.sizes()) +
                      " " + std::string(c10::toString(images.scalar_type())));
  NAIRR_CHECK_ARG(labels.dim() == 1 && labels.size(0) == images.size(0),
                  what + ": expected one label per image, got " + std::to_string(labels.numel()) +
                      " labels for " + std::to_string(images.size(0)) + " images");
}
}  // namespace

void ImageFitConfig::validate() const {
  NAIRR_CHECK_ARG(epochs >= 0, "epochs: expected >= 0, got " + std::to_string(epochs));
  NAIRR_CHECK_ARG(batch_size >= 2, "batch_size: expected >= 2, got " + std::to_string(batch_size));
  NAIRR_CHECK_ARG(lr > 0 && bias_lr > 0, "lr: expected > 0");
  NAIRR_CHECK_ARG(weight_decay >= 0 && bias_weight_decay >= 0, "weight_decay: expected >= 0");
  NAIRR_CHECK_ARG(momentum >= 0 && momentum < 1, "momentum: expected 0 <= momentum < 1");
  NAIRR_CHECK_ARG(!nesterov || momentum > 0, "nesterov: needs momentum > 0");
  NAIRR_CHECK_ARG(label_smoothing >= 0 && label_smoothing < 1, "label_smoothing: expected 0 <= x < 1");
  NAIRR_CHECK_ARG(lr_peak >= 0 && lr_peak <= 1, "lr_peak: expected a fraction of the steps in [0, 1]");
  NAIRR_CHECK_ARG(eval_batch_size >= 1, "eval_batch_size: expected >= 1");
  NAIRR_CHECK_ARG(accumulate >= 1, "accumulate: expected >= 1, got " + std::to_string(accumulate));
  augment.validate();
}

ImageTrainer::ImageTrainer(const ImageModelConfig& model, const ImageFitConfig& fit)
    : LoopBase(fit.device, fit.precision, fit.seed), model_config_(model), config_(fit) {
  config_.validate();
  model_ = make_image_model(model_config_);
  model_->to(device_);
  if (config_.channels_last) {
    torch::NoGradGuard no_grad;
    for (auto& p : model_->parameters())
      if (p.dim() == 4) p.set_data(p.contiguous(at::MemoryFormat::ChannelsLast));
  }
  std::vector<at::Tensor> weights, others;
  for (const auto& item : model_->named_parameters()) {
    if (!item.value().requires_grad() && item.key() != "whiten.bias") continue;
    (model_->is_norm_or_bias(item.key(), item.value()) ? others : weights).push_back(item.value());
  }
  auto options = [&](double lr, double wd) {
    return std::make_unique<torch::optim::SGDOptions>(
        torch::optim::SGDOptions(lr).momentum(config_.momentum).nesterov(config_.nesterov).weight_decay(wd));
  };
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(weights, options(config_.lr, config_.weight_decay));
  groups.emplace_back(others, options(config_.bias_lr, config_.bias_weight_decay));
  optimizer_ = std::make_unique<FusedSGD>(groups, torch::optim::SGDOptions(config_.lr));
}

double ImageTrainer::lr_factor(int64_t step, int64_t total) const {
  const double p = total > 0 ? static_cast<double>(step) / total : 1.0;
  const double peak = config_.lr_peak;
  if (p < peak) return config_.lr_start + (1.0 - config_.lr_start) * p / peak;
  if (peak >= 1.0) return 1.0;
  return 1.0 + (config_.lr_end - 1.0) * (p - peak) / (1.0 - peak);
}

void ImageTrainer::set_lr_factor(double factor) {
  optimizer_->set_lr(0, config_.lr * factor);
  optimizer_->set_lr(1, config_.bias_lr * factor);
}

void ImageTrainer::lookahead_update(double decay) {
  torch::NoGradGuard no_grad;
  size_t i = 0;
  auto visit = [&](const at::Tensor& t) {
    if (!at::isFloatingType(t.scalar_type())) return;
    if (lookahead_.size() <= i) lookahead_.push_back(t.detach().clone());
    lookahead_[i].lerp_(t, 1.0 - decay);
    t.detach().copy_(lookahead_[i]);
    ++i;
  };
  for (const auto& p : model_->parameters()) visit(p);
  for (const auto& b : model_->buffers()) visit(b);
}

at::Tensor ImageTrainer::forward(const at::Tensor& x) {
  RECORD_FUNCTION("nairrcore::forward", std::vector<c10::IValue>());
  auto scope = autocast();
  return model_->forward(x);
}

at::Tensor ImageTrainer::logits_eval(const at::Tensor& x) {
  auto mirrored = [&](const at::Tensor& v) {
    auto logits = forward(v).to(at::kFloat);
    return config_.tta ? 0.5 * (logits + forward(v.flip({3})).to(at::kFloat)) : logits;
  };
  auto logits = mirrored(x);
  if (!config_.tta_translate) return logits;
  // One-pixel shifts up-left and down-right of the reflect-padded image.
  const int64_t h = x.size(2), w = x.size(3);
  auto padded = at::reflection_pad2d(x, {1, 1, 1, 1});
  auto up_left = mirrored(padded.narrow(2, 0, h).narrow(3, 0, w));
  auto down_right = mirrored(padded.narrow(2, 2, h).narrow(3, 2, w));
  return 0.5 * logits + 0.25 * (up_left + down_right);
}

void ImageTrainer::train_step(const at::Tensor& x, const at::Tensor& y) {
  auto logits = forward(x).to(at::kFloat);
  auto loss = F::cross_entropy(
      logits, y, F::CrossEntropyFuncOptions().label_smoothing(config_.label_smoothing).reduction(torch::kSum));
  const double n = static_cast<double>(x.size(0));
  if (!config_.loss_sum) loss = loss / n;
  optimizer_step(loss, *optimizer_);
  add_loss(loss, config_.loss_sum ? 1.0 : n, x.size(0));
}

std::vector<EpochStats> ImageTrainer::fit(const at::Tensor& train_images, const at::Tensor& train_labels,
                                          const at::Tensor& val_images, const at::Tensor& val_labels,
                                          const EpochCallback& on_epoch, const StepCallback& on_step,
                                          int64_t callback_every) {
  check_images(train_images, train_labels, "train");
  check_images(val_images, val_labels, "validation");
  CpuBlockCacheScope block_cache(device_.is_cpu());
  const bool resident = device_.is_cuda() && config_.data_on_device;
  data::ImageLoaderOptions lo;
  lo.loader.batch_size = dp_.local_batch(config_.batch_size);
  if (dp_) lo.loader.shard = data::ShardSpec{dp_.group->rank(), dp_.group->size()};
  lo.loader.seed = config_.seed;
  lo.loader.workers = config_.workers;
  lo.loader.prefetch = config_.prefetch;
  lo.augment = config_.augment;
  lo.channels_last = config_.channels_last;
  lo.dtype = compute_dtype();
  data::ImageLoader loader(resident ? train_images.to(device_) : train_images,
                           resident ? train_labels.to(device_) : train_labels, device_, lo);
  if (!initialised_) {
    auto sample = train_images.narrow(0, 0, std::min<int64_t>(5000, train_images.size(0)));
    model_->init_from_data(data::normalize_images(sample, config_.augment, at::kFloat, false));
    initialised_ = true;
  }
  dp_.sync_weights(*model_);
  dist::sync_batch_norm_over(*model_, config_.sync_batch_norm ? dp_.group : nullptr);
  grad_sync_ = dp_.gradient_sync(model_->parameters());
  const int64_t batches = loader.num_batches();
  const int64_t total_steps = batches * config_.epochs;
  const int64_t full = lo.loader.batch_size;
  auto* fastnet = dynamic_cast<FastNet*>(model_.get());
  EpochHooks hooks;
  hooks.begin_epoch = [&](int64_t e) {
    if (fastnet && e >= config_.whiten_bias_epochs && fastnet->whiten()->bias.requires_grad()) {
      fastnet->whiten()->bias.requires_grad_(false);
      invalidate_graph();  // one parameter fewer in the step
    }
    model_->train();
  };
  hooks.step = [&](const at::Tensor& images, const at::Tensor& y, int64_t batch) {
    const int64_t step = progress_.epochs_done * batches + batch;
    set_lr_factor(lr_factor(step, total_steps));
    auto x = config_.channels_last ? images.contiguous(at::MemoryFormat::ChannelsLast) : images;
    run_step(x, y, x.size(0) == full, [&](const at::Tensor& sx, const at::Tensor& sy) { train_step(sx, sy); });
    if (config_.lookahead && (step + 1) % 5 == 0) {
      const double progress = static_cast<double>(step + 1) / std::max<int64_t>(total_steps, 1);
      lookahead_update(std::pow(0.95, 5) * std::pow(progress, 3));
    }
  };
  hooks.end_epoch = [&](int64_t e) {
    if (config_.lookahead && e + 1 == config_.epochs) lookahead_update(1.0);
  };
  hooks.validate = [&](EpochStats& st) {
    dp_.sync_buffers(*model_);
    st.val_samples = val_images.size(0);
    st.val_loss = std::nan("");
    if (val_images.size(0) > 0) {
      auto m = evaluate(val_images, val_labels);
      st.val_loss = m.loss;
      st.val_accuracy = m.accuracy;
    }
  };
  return run_epochs(loader, config_.epochs, config_.accumulate, hooks, config_.cuda_graphs, on_epoch, on_step,
                    callback_every);
}

ClassificationMetrics ImageTrainer::evaluate(const at::Tensor& images, const at::Tensor& labels) {
  RECORD_FUNCTION("nairrcore::evaluate", std::vector<c10::IValue>());
  check_images(images, labels, "evaluate");
  torch::NoGradGuard no_grad;
  model_->eval();
  const int64_t n = images.size(0), classes = model_config_.classes;
  // Data parallel: each rank evaluates a contiguous share; sums and the
  // confusion matrix are reduced, `predicted` covers this rank's share.
  const int64_t begin = dp_ ? n * dp_.group->rank() / dp_.group->size() : 0;
  const int64_t end = dp_ ? n * (dp_.group->rank() + 1) / dp_.group->size() : n;
  auto loss_sum = at::zeros({}, at::TensorOptions().device(device_).dtype(at::kDouble));
  std::vector<at::Tensor> predicted;
  for (int64_t i = begin; i < end; i += config_.eval_batch_size) {
    const int64_t b = std::min(config_.eval_batch_size, end - i);
    auto x = data::normalize_images(images.narrow(0, i, b).to(device_), config_.augment, at::kFloat,
                                    config_.channels_last);
    auto y = labels.narrow(0, i, b).to(device_, at::kLong);
    auto logits = logits_eval(x);
    loss_sum += F::cross_entropy(logits, y, F::CrossEntropyFuncOptions().reduction(torch::kSum))
                    .to(at::kDouble);
    predicted.push_back(logits.argmax(1).cpu());
  }
  ClassificationMetrics m;
  m.samples = n;
  m.predicted = predicted.empty() ? at::empty({0}, at::kLong) : at::cat(predicted);
  auto truth = labels.narrow(0, begin, end - begin).cpu().to(at::kLong);
  m.confusion = at::bincount(truth * classes + m.predicted, {}, classes * classes).view({classes, classes});
  double loss = loss_sum.item<double>();
  if (dp_) {
    std::vector<double> v(1 + classes * classes);
    v[0] = loss;
    auto c = m.confusion.to(at::kDouble).contiguous();
    std::copy(c.data_ptr<double>(), c.data_ptr<double>() + c.numel(), v.begin() + 1);
    v = dp_.sum(v, device_);
    loss = v[0];
    m.confusion = at::tensor(std::vector<double>(v.begin() + 1, v.end()), at::kDouble)
                      .to(at::kLong)
                      .view({classes, classes});
  }
  m.loss = n > 0 ? loss / n : std::nan("");
  m.accuracy = n > 0 ? m.confusion.diag().sum().item<double>() / n : std::nan("");
  return m;
}

at::Tensor ImageTrainer::predict_proba(const at::Tensor& images) {
  torch::NoGradGuard no_grad;
  model_->eval();
  std::vector<at::Tensor> parts;
  for (int64_t i = 0; i < images.size(0); i += config_.eval_batch_size) {
    const int64_t b = std::min(config_.eval_batch_size, images.size(0) - i);
    auto x = data::normalize_images(images.narrow(0, i, b).to(device_), config_.augment, at::kFloat,
                                    config_.channels_last);
    parts.push_back(at::softmax(logits_eval(x), 1).cpu());
  }
  if (parts.empty()) return at::empty({0, model_config_.classes}, at::kFloat);
  return at::cat(parts);
}

std::map<std::string, at::Tensor> ImageTrainer::state_dict() const { return module_state(*model_); }

std::string ImageTrainer::save_state() {
  sync_progress();
  return save_training_state(*model_, *optimizer_, scaler_, progress_, lookahead_);
}

void ImageTrainer::load_state(const std::string& blob) {
  load_training_state(blob, *model_, *optimizer_, scaler_, progress_, lookahead_);
  initialised_ = true;
}

void ImageTrainer::load_state_dict(const std::map<std::string, at::Tensor>& state) {
  load_module_state(*model_, state);
  initialised_ = true;  // loaded weights include the whitening filters
}

}  // namespace nairrcore::train
