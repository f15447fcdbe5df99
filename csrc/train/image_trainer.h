#pragma once
// Training and evaluation of the CIFAR-10 classifiers: fused SGD with
// Nesterov momentum in two parameter groups (weights; BN and biases), a
// piecewise linear warm-up/decay schedule per step, label smoothing, AMP
// (bf16, or fp16 with dynamic loss scaling), channels_last, optional
// lookahead averaging of the weights, horizontal-flip test-time
// augmentation, and on a GPU each full batch's step replayed as a CUDA graph.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "data/image_augment.h"
#include "train/loop_base.h"
#include "train/epoch_stats.h"
#include "train/fused_optimizer.h"
#include "train/image_models.h"
#include "train/precision.h"
#include "train/training_state.h"

namespace nairrcore::train {

// Every value comes from Python's Cifar10Config and its recipes
// (settings.to_core); no defaults here.
struct ImageFitConfig {
  int64_t epochs{};
  int64_t batch_size{};
  // Per-group torch SGD coefficients: weights, then BN parameters and biases.
  double lr{}, weight_decay{};
  double bias_lr{}, bias_weight_decay{};
  double momentum{};
  bool nesterov{};
  double label_smoothing{};
  bool loss_sum{};  // sum over the batch instead of the mean
  // LR factor: start -> 1 at peak (fraction of all steps) -> end, linearly.
  double lr_start{}, lr_peak{}, lr_end{};
  bool lookahead{};  // EMA of the weights every 5 steps, copied back
  int64_t whiten_bias_epochs{};  // fastnet: whitening bias trained this long
  bool tta{};         // evaluation averages the image and its mirror
  bool tta_translate{};  // ... and one-pixel shifts of both (the fast recipe's level 2)
  uint64_t seed{};
  std::string device;
  std::string precision;
  bool channels_last{};
  bool data_on_device{};  // GPU: keep the data set resident
  int workers{};
  int prefetch{};
  int64_t accumulate{};  // micro-batches per optimiser step (data parallel: sync on the last)
  bool sync_batch_norm{};  // data parallel: BatchNorm statistics over all ranks
  int64_t eval_batch_size{};
  bool cuda_graphs{};  // GPU: replay each full batch's step from a CUDA graph
  data::AugmentSpec augment;
  void validate() const;
};

struct ClassificationMetrics {
  double loss = 0;      // mean cross-entropy, no smoothing
  double accuracy = 0;  // top-1
  at::Tensor confusion;   // int64 [classes, classes], rows = true class
  at::Tensor predicted;   // int64 [N]
  int64_t samples = 0;
};

class ImageTrainer : public LoopBase {
 public:
  ImageTrainer(const ImageModelConfig& model, const ImageFitConfig& fit);

  // Images uint8 [N,3,32,32] and labels int64 [N], on the CPU. The
  // validation images (possibly none) are evaluated after every epoch
  // (val_loss, val_accuracy).
  std::vector<EpochStats> fit(const at::Tensor& train_images, const at::Tensor& train_labels,
                              const at::Tensor& val_images, const at::Tensor& val_labels,
                              const EpochCallback& on_epoch = {}, const StepCallback& on_step = {},
                              int64_t callback_every = 1);
  ClassificationMetrics evaluate(const at::Tensor& images, const at::Tensor& labels);
  // Class probabilities, float32 [N, classes] on the CPU.
  at::Tensor predict_proba(const at::Tensor& images);

  std::map<std::string, at::Tensor> state_dict() const;
  void load_state_dict(const std::map<std::string, at::Tensor>& state);
  int64_t num_parameters() const { return model_->num_parameters(); }
  // Full training state as bytes (see train/training_state.h); fit() continues from it.
  std::string save_state();
  void load_state(const std::string& blob);

 private:
  at::Tensor forward(const at::Tensor& x);
  // Forward, loss, backward, optimiser step, loss sum: device work only.
  void train_step(const at::Tensor& x, const at::Tensor& y);
  at::Tensor logits_eval(const at::Tensor& x);
  void set_lr_factor(double factor);
  double lr_factor(int64_t step, int64_t total) const;
  void lookahead_update(double decay);

  ImageModelConfig model_config_;
  ImageFitConfig config_;
  std::shared_ptr<ImageClassifier> model_;
  std::unique_ptr<FusedSGD> optimizer_;
  std::vector<at::Tensor> lookahead_;  // floating-point parameters and buffers
  bool initialised_ = false;
};

}  // namespace nairrcore::train
