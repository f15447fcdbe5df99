#pragma once
// Batches of (x, y) row pairs. Resident when x and y already live on the
// target device (GPU: one fused gather kernel per batch) or when workers == 0;
// otherwise streamed through pinned buffers by worker threads.
#include "data/batch_loader.h"

namespace nairrcore::data {

class TabularLoader final : public BatchLoader {
 public:
  // x: [n, F], y: [n, T] float32, on the CPU or on `device`.
  TabularLoader(at::Tensor x, at::Tensor y, c10::Device device, LoaderOptions options);
  ~TabularLoader() override { stop(); }

 private:
  void alloc_host(at::Tensor& hx, at::Tensor& hy) override;
  void fill_host(const int64_t* index, int64_t n, at::Tensor& hx, at::Tensor& hy) override;
  void make_resident(const at::Tensor& index, const int64_t* host_index, int64_t n,
                     Batch& out) override;

  at::Tensor x_, y_;
};

}  // namespace nairrcore::data
