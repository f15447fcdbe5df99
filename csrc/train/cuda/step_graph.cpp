#include "train/step_graph.h"

#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <optional>

namespace nairrcore::train {

namespace {
// `to` waits for what was queued on `from` so far.
void wait(const c10::cuda::CUDAStream& to, const c10::cuda::CUDAStream& from) {
  at::cuda::CUDAEvent event;
  event.record(from);
  event.block(to);
}
}  // namespace

struct StepGraph::Impl {
  c10::Device device{c10::kCPU};
  std::string off_reason, failure;
  int warmup = 3;
  int eager_before_capture = 0;
  int captures = 0;
  int64_t replays = 0;
  std::unique_ptr<at::cuda::CUDAGraph> graph;
  std::optional<c10::cuda::CUDAStream> side;

  bool active() const { return off_reason.empty() && failure.empty(); }

  void run_on_side(const std::function<void()>& step) {
    auto main = c10::cuda::getCurrentCUDAStream(device.index());
    wait(*side, main);
    {
      c10::cuda::CUDAStreamGuard guard(*side);
      step();
    }
    wait(main, *side);
  }

  bool capture(const std::function<void()>& step) {
    auto main = c10::cuda::getCurrentCUDAStream(device.index());
    auto g = std::make_unique<at::cuda::CUDAGraph>();
    wait(*side, main);
    bool begun = false;
    try {
      c10::cuda::CUDAStreamGuard guard(*side);
      g->capture_begin();
      begun = true;
      step();
      begun = false;
      g->capture_end();
    } catch (const std::exception& e) {
      failure = e.what();
      const auto cut = failure.find('\n');
      if (cut != std::string::npos) failure.resize(cut);
      if (begun) {
        try {
          g->capture_end();
        } catch (const std::exception&) {
        }
      }
      (void)cudaGetLastError();  // a failed capture leaves no sticky error; clear the last one
      return false;
    }
    wait(main, *side);
    graph = std::move(g);
    ++captures;
    return true;
  }
};

StepGraph::StepGraph(c10::Device device, std::string off_reason, int warmup)
    : impl_(std::make_unique<Impl>()) {
  impl_->device = device;
  impl_->warmup = warmup;
  impl_->off_reason = device.is_cuda() ? std::move(off_reason) : "not a GPU";
  if (impl_->active()) impl_->side = c10::cuda::getStreamFromPool(false, device.index());
}

StepGraph::~StepGraph() = default;

void StepGraph::run(const std::function<void()>& step) {
  Impl& s = *impl_;
  if (!s.active()) {
    step();
    return;
  }
  if (!s.graph) {
    if (s.eager_before_capture < s.warmup) {
      ++s.eager_before_capture;
      s.run_on_side(step);
      return;
    }
    if (!s.capture(step)) {
      step();  // the captured ops did not run: this step runs eagerly
      return;
    }
  }
  s.graph->replay();
  ++s.replays;
}

void StepGraph::invalidate() {
  impl_->graph.reset();
  impl_->eager_before_capture = std::max(0, impl_->warmup - 1);  // one eager step, then capture
}

bool StepGraph::active() const { return impl_->active(); }

std::string StepGraph::status() const {
  const Impl& s = *impl_;
  if (!s.off_reason.empty()) return "off: " + s.off_reason;
  if (!s.failure.empty()) return "failed, eager: " + s.failure;
  return "on: captured " + std::to_string(s.captures) + " time(s), " + std::to_string(s.replays) + " replays";
}

}  // namespace nairrcore::train
