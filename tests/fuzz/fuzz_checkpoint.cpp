// libFuzzer target: restoring a training state from arbitrary bytes (a
// corrupt or foreign checkpoint) must fail with DataError or ConfigError, or
// restore something in range; never crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/errors.h"
#include "train/fused_optimizer.h"
#include "train/mlp.h"
#include "train/precision.h"
#include "train/training_state.h"
#include "../cpp/test_configs.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static nairrcore::train::MlpConfig config = [] {
    nairrcore::train::MlpConfig c = nairrcore::testing::spec_mlp();  // the spec's block, made small
    c.inputs = 4;
    c.width = 8;
    c.depth = 1;
    return c;
  }();
  nairrcore::train::Mlp model(config);
  nairrcore::train::FusedAdamW optimizer(model->parameters(), torch::optim::AdamWOptions(1e-3));
  nairrcore::train::LossScaler scaler(false, c10::Device("cpu"));
  nairrcore::train::LoopProgress progress;
  std::vector<at::Tensor> extra;
  try {
    nairrcore::train::load_training_state(std::string(reinterpret_cast<const char*>(data), size), *model,
                                          optimizer, scaler, progress, extra);
    if (progress.epochs_done < 0 || progress.next_batch < 0) __builtin_trap();
  } catch (const nairrcore::DataError&) {
  } catch (const nairrcore::ConfigError&) {
  }
  return 0;
}
