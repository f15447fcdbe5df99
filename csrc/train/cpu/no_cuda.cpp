// Stand-ins for the training loops' CUDA parts when the package is built without CUDA.
#include "common/errors.h"
#include "train/max_pool.h"
#include "train/norm_gelu_dropout.h"
#include "train/step_graph.h"

namespace nairrcore::train {

struct StepGraph::Impl {
  std::string off_reason;
};

StepGraph::StepGraph(c10::Device device, std::string off_reason, int)
    : impl_(std::make_unique<Impl>()) {
  impl_->off_reason = device.is_cuda() ? "this build has no CUDA support" : std::move(off_reason);
  if (impl_->off_reason.empty()) impl_->off_reason = "not a GPU";
}
StepGraph::~StepGraph() = default;
void StepGraph::run(const std::function<void()>& step) { step(); }
void StepGraph::invalidate() {}
bool StepGraph::active() const { return false; }
std::string StepGraph::status() const { return "off: " + impl_->off_reason; }

bool norm_gelu_dropout_cuda_available() { return false; }
bool norm_gelu_dropout_cuda_fits(const at::Tensor&) { return false; }
at::Tensor norm_gelu_dropout_cuda(const at::Tensor&, const at::Tensor&, const at::Tensor&, double, double, bool,
                                  const at::Tensor&) {
  throw ConfigError("this nairrcore build has no CUDA kernels; rebuild with a CUDA toolkit");
}

bool max_pool_2x2_cuda_fits(const at::Tensor&) { return false; }
at::Tensor max_pool_2x2_cuda(const at::Tensor&) {
  throw ConfigError("this nairrcore build has no CUDA kernels; rebuild with a CUDA toolkit");
}

}  // namespace nairrcore::train
