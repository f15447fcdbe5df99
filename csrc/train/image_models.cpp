#include "train/image_models.h"

#include <ATen/ops/linalg_eigh.h>
#include <torch/nn/functional/activation.h>
#include <torch/nn/functional/pooling.h>
#include <torch/nn/init.h>
#include <torch/utils.h>

#include "common/errors.h"
#include "train/max_pool.h"

namespace nairrcore::train {

namespace nn = torch::nn;
namespace F = torch::nn::functional;

void ImageModelConfig::validate() const {
  NAIRR_CHECK_ARG(name == "resnet18" || name == "fastnet",
                  "model: expected 'resnet18' or 'fastnet', got '" + name + "'");
  NAIRR_CHECK_ARG(classes >= 2, "model classes: expected >= 2");
  const size_t groups = name == "resnet18" ? 4 : 3;
  bool positive = widths.size() == groups;
  for (auto w : widths) positive = positive && w > 0;
  NAIRR_CHECK_ARG(positive, "widths: " + name + " expects " + std::to_string(groups) + " positive widths");
  if (name == "fastnet") {
    NAIRR_CHECK_ARG(whiten_width > 0 && whiten_width % 2 == 0, "whiten_width: expected a positive even number");
  } else {
    NAIRR_CHECK_ARG(whiten_width == 0, "whiten_width: resnet18 has no whitening layer; expected 0");
  }
  NAIRR_CHECK_ARG(bn_momentum > 0 && bn_momentum <= 1, "bn_momentum: expected 0 < momentum <= 1");
  NAIRR_CHECK_ARG(head_scale > 0, "head_scale: expected > 0");
}

bool ImageClassifier::is_norm_or_bias(const std::string& name, const at::Tensor& p) const {
  return p.dim() <= 1 || name.find("norm") != std::string::npos || name.find("bn") != std::string::npos;
}

int64_t ImageClassifier::num_parameters() const {
  int64_t n = 0;
  for (const auto& p : parameters()) n += p.numel();
  return n;
}

namespace {
dist::SyncBatchNorm2d batch_norm(int64_t features, double momentum) {
  return dist::SyncBatchNorm2d(nn::BatchNorm2dOptions(features).momentum(momentum));
}
}  // namespace

BasicBlock::BasicBlock(int64_t in, int64_t out, int64_t stride, double bn_momentum) {
  conv1_ = register_module("conv1", nn::Conv2d(nn::Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(false)));
  bn1_ = register_module("bn1", batch_norm(out, bn_momentum));
  conv2_ = register_module("conv2", nn::Conv2d(nn::Conv2dOptions(out, out, 3).padding(1).bias(false)));
  bn2_ = register_module("bn2", batch_norm(out, bn_momentum));
  if (stride != 1 || in != out) {
    shortcut_ = register_module(
        "shortcut", nn::Sequential(nn::Conv2d(nn::Conv2dOptions(in, out, 1).stride(stride).bias(false)),
                                   batch_norm(out, bn_momentum)));
  }
}

at::Tensor BasicBlock::forward(const at::Tensor& x) {
  auto out = at::relu(bn1_->forward(conv1_->forward(x)));
  out = bn2_->forward(conv2_->forward(out));
  out = out + (shortcut_ ? shortcut_->forward(x) : x);
  return at::relu(out);
}

ResNet18::ResNet18(const ImageModelConfig& c) : head_scale_(c.head_scale) {
  const auto& widths = c.widths;
  stem_ = register_module("conv1", nn::Conv2d(nn::Conv2dOptions(3, widths[0], 3).padding(1).bias(false)));
  stem_bn_ = register_module("bn1", batch_norm(widths[0], c.bn_momentum));
  int64_t in = widths[0];
  for (int stage = 0; stage < 4; ++stage) {
    for (int b = 0; b < 2; ++b) {
      const int64_t stride = (stage > 0 && b == 0) ? 2 : 1;
      auto block = std::make_shared<BasicBlock>(in, widths[stage], stride, c.bn_momentum);
      register_module("layer" + std::to_string(stage + 1) + "_" + std::to_string(b), block);
      blocks_.push_back(block);
      in = widths[stage];
    }
  }
  fc_ = register_module("fc", nn::Linear(in, c.classes));
}

at::Tensor ResNet18::forward(const at::Tensor& x) {
  auto out = at::relu(stem_bn_->forward(stem_->forward(x)));
  for (auto& block : blocks_) out = block->forward(out);
  out = at::adaptive_avg_pool2d(out, {1, 1}).flatten(1);
  out = fc_->forward(out);
  return head_scale_ == 1.0 ? out : out * head_scale_;
}

namespace {
// The first in-channels filters start as identities (dirac), the rest as torch's default.
nn::Conv2d dirac_conv(int64_t in, int64_t out) {
  nn::Conv2d conv(nn::Conv2dOptions(in, out, 3).padding(1).bias(false));
  torch::NoGradGuard no_grad;
  nn::init::dirac_(conv->weight.narrow(0, 0, std::min(in, out)));
  return conv;
}

dist::SyncBatchNorm2d fixed_scale_norm(int64_t features, double momentum) {
  dist::SyncBatchNorm2d bn(nn::BatchNorm2dOptions(features).momentum(momentum).eps(1e-12));
  bn->weight.requires_grad_(false);
  return bn;
}
}  // namespace

ConvGroup::ConvGroup(int64_t in, int64_t out, double bn_momentum) {
  conv1_ = register_module("conv1", dirac_conv(in, out));
  norm1_ = register_module("norm1", fixed_scale_norm(out, bn_momentum));
  conv2_ = register_module("conv2", dirac_conv(out, out));
  norm2_ = register_module("norm2", fixed_scale_norm(out, bn_momentum));
}

at::Tensor ConvGroup::forward(const at::Tensor& x) {
  auto out = max_pool_2x2(conv1_->forward(x));
  out = at::gelu(norm1_->forward(out));
  return at::gelu(norm2_->forward(conv2_->forward(out)));
}

FastNet::FastNet(const ImageModelConfig& c) : head_scale_(c.head_scale) {
  whiten_ = register_module("whiten", nn::Conv2d(nn::Conv2dOptions(3, c.whiten_width, 2).bias(true)));
  {
    torch::NoGradGuard no_grad;
    whiten_->bias.zero_();
  }
  whiten_->weight.requires_grad_(false);
  int64_t in = c.whiten_width;
  for (size_t g = 0; g < c.widths.size(); ++g) {
    auto group = std::make_shared<ConvGroup>(in, c.widths[g], c.bn_momentum);
    register_module("layer" + std::to_string(g + 1), group);
    groups_.push_back(group);
    in = c.widths[g];
  }
  head_ = register_module("head", nn::Linear(nn::LinearOptions(in, c.classes).bias(false)));
}

at::Tensor FastNet::forward(const at::Tensor& x) {
  auto out = at::gelu(whiten_->forward(x));
  for (auto& g : groups_) out = g->forward(out);
  out = at::max_pool2d(out, {3, 3}).flatten(1);
  return head_->forward(out) * head_scale_;
}

void FastNet::init_from_data(const at::Tensor& images) {
  // Eigen-decomposition of the 2x2 patch covariance: the filters project onto
  // its eigenvectors scaled to unit variance, in both signs.
  torch::NoGradGuard no_grad;
  auto w = whiten_->weight;
  const int64_t k = w.size(0) / 2;
  auto x = images.to(w.device(), at::kFloat);
  auto patches = x.unfold(2, 2, 1).unfold(3, 2, 1).transpose(1, 3).reshape({-1, 12}).to(at::kDouble);
  auto cov = patches.t().mm(patches) / static_cast<double>(patches.size(0));
  auto [eigenvalues, eigenvectors] = at::linalg_eigh(cov, "U");
  eigenvalues = eigenvalues.flip(0);
  auto filters = eigenvectors.t().flip(0).reshape({12, 3, 2, 2});
  filters = filters / (eigenvalues + 5e-4).sqrt().view({-1, 1, 1, 1});
  filters = filters.narrow(0, 0, std::min<int64_t>(k, 12));
  auto full = at::zeros_like(w);
  full.narrow(0, 0, filters.size(0)).copy_(filters);
  full.narrow(0, k, filters.size(0)).copy_(-filters);
  w.copy_(full);
}

std::shared_ptr<ImageClassifier> make_image_model(const ImageModelConfig& config) {
  config.validate();
  if (config.name == "resnet18") return std::make_shared<ResNet18>(config);
  return std::make_shared<FastNet>(config);
}

}  // namespace nairrcore::train
