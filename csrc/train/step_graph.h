#pragma once
// A training step replayed as a CUDA graph. Launched op by op, a step of the
// forecasting MLP is a few hundred kernels and the GPU waits on the host
// between them; replayed, it is one launch. The step reads its inputs from
// static buffers the caller fills first, and keeps everything it updates
// (parameters, optimiser and scaler state, the loss sum) in tensors that live
// as long as the graph. The first `warmup` steps run eagerly on a side stream
// (cuBLAS, autograd and the caching allocator settle), the next is captured;
// any capture failure runs that step eagerly and every later one too, and
// status() says why. Off the GPU, or when the caller gives a reason, every
// step runs eagerly.
#include <c10/core/Device.h>

#include <functional>
#include <memory>
#include <string>

namespace nairrcore::train {

class StepGraph {
 public:
  // `off_reason`: empty to use a graph, else why not (kept for status()).
  StepGraph(c10::Device device, std::string off_reason, int warmup = 3);
  ~StepGraph();
  StepGraph(const StepGraph&) = delete;
  StepGraph& operator=(const StepGraph&) = delete;

  // One step: eagerly, or by replaying the graph captured from `step`.
  void run(const std::function<void()>& step);
  // The captured step no longer matches (e.g. a parameter stopped training):
  // the next run() captures again.
  void invalidate();
  // Whether steps go through a graph (false when off or after a failed capture).
  bool active() const;
  // "on: captured N time(s), M replays", "off: <reason>" or
  // "failed, eager: <error>".
  std::string status() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nairrcore::train
