#pragma once
// CIFAR-10 classifiers: ResNet-18 (CIFAR variant) and a fast small net in the
// spirit of the public time-to-94% recipes (patch-whitening first layer,
// three conv groups with max-pooling, BatchNorm with fixed scale, scaled head).
#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/container/sequential.h>

#include <memory>
#include <string>
#include <vector>

#include "distributed/sync_batch_norm.h"

namespace nairrcore::train {

// Every value comes from Python's Cifar10Config and its recipes
// (settings.to_core); no defaults here.
struct ImageModelConfig {
  std::string name;             // "resnet18" | "fastnet"
  int64_t classes{};
  std::vector<int64_t> widths;  // resnet18: 4 stages; fastnet: 3 conv groups
  int64_t whiten_width{};       // fastnet: 2 x (3*2*2) whitening filters; resnet18: 0
  double bn_momentum{};         // torch convention: weight of the new batch
  double head_scale{};          // logits are multiplied by this
  void validate() const;
};

class ImageClassifier : public torch::nn::Module {
 public:
  virtual at::Tensor forward(const at::Tensor& x) = 0;
  // Data-dependent initialisation (fastnet: whitening filters) from a sample
  // of normalised training images [n,3,32,32] float32; no-op by default.
  virtual void init_from_data(const at::Tensor& /*images*/) {}
  // Parameters the optimiser's second group gets (BN and biases).
  bool is_norm_or_bias(const std::string& name, const at::Tensor& p) const;
  int64_t num_parameters() const;
};

class BasicBlock : public torch::nn::Module {
 public:
  BasicBlock(int64_t in, int64_t out, int64_t stride, double bn_momentum);
  at::Tensor forward(const at::Tensor& x);

 private:
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr};
  dist::SyncBatchNorm2d bn1_{nullptr}, bn2_{nullptr};
  torch::nn::Sequential shortcut_{nullptr};
};

class ResNet18 final : public ImageClassifier {
 public:
  explicit ResNet18(const ImageModelConfig& config);
  at::Tensor forward(const at::Tensor& x) override;

 private:
  torch::nn::Conv2d stem_{nullptr};
  dist::SyncBatchNorm2d stem_bn_{nullptr};
  std::vector<std::shared_ptr<BasicBlock>> blocks_;
  torch::nn::Linear fc_{nullptr};
  double head_scale_;
};

class ConvGroup : public torch::nn::Module {
 public:
  ConvGroup(int64_t in, int64_t out, double bn_momentum);
  at::Tensor forward(const at::Tensor& x);

 private:
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr};
  dist::SyncBatchNorm2d norm1_{nullptr}, norm2_{nullptr};
};

class FastNet final : public ImageClassifier {
 public:
  explicit FastNet(const ImageModelConfig& config);
  at::Tensor forward(const at::Tensor& x) override;
  void init_from_data(const at::Tensor& images) override;
  torch::nn::Conv2d& whiten() { return whiten_; }

 private:
  double head_scale_;
  torch::nn::Conv2d whiten_{nullptr};
  std::vector<std::shared_ptr<ConvGroup>> groups_;
  torch::nn::Linear head_{nullptr};
};

std::shared_ptr<ImageClassifier> make_image_model(const ImageModelConfig& config);

}  // namespace nairrcore::train
