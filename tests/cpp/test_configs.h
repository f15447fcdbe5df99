#pragma once
// The settings the C++ tests run with, every field given: the core's config
// structs have no defaults (Python's settings classes are their only source),
// so a test spells out the spec's values it means.
#include "train/forecast_trainer.h"
#include "train/image_models.h"
#include "train/mlp.h"

namespace nairrcore::testing {

// The forecasting spec's MLP: 37 features, 8 blocks of 1024, 3 targets.
inline train::MlpConfig spec_mlp() {
  train::MlpConfig m;
  m.inputs = 37;
  m.width = 1024;
  m.depth = 8;
  m.outputs = 3;
  m.dropout = 0.1;
  m.norm_eps = 1e-5;
  m.fused_blocks = true;
  return m;
}

// The forecasting spec's training settings, on the CPU in fp32.
inline train::FitConfig spec_fit() {
  train::FitConfig f;
  f.epochs = 50;
  f.batch_size = 8192;
  f.lr = 3e-4;
  f.weight_decay = 1e-2;
  f.adam_beta1 = 0.9;
  f.adam_beta2 = 0.999;
  f.adam_eps = 1e-8;
  f.smooth_l1_beta = 1.0;
  f.eval_batch_size = 65536;
  f.seed = 42;
  f.device = "cpu";
  f.precision = "fp32";
  f.data_on_device = true;
  f.workers = 1;
  f.prefetch = 4;
  f.accumulate = 1;
  f.cuda_graphs = true;
  return f;
}

// ResNet-18 for CIFAR-10.
inline train::ImageModelConfig resnet18_model() {
  train::ImageModelConfig c;
  c.name = "resnet18";
  c.classes = 10;
  c.widths = {64, 128, 256, 512};
  c.whiten_width = 0;
  c.bn_momentum = 0.1;
  c.head_scale = 1.0;
  return c;
}

}  // namespace nairrcore::testing
