#pragma once
// Augmented image batches (x float/half [B,3,32,32], y int64 [B]).
//  - resident (default on a GPU when the data set is given on it): the padded
//    uint8 data set lives on the device and every batch is a few batched
//    tensor ops there (crop, flip, cutout, normalise), no host work per step;
//  - streamed: worker threads augment into pinned float32 buffers which are
//    copied asynchronously to the device.
// Both draw the same per-sample parameters, so they yield the same batches.
#include "data/batch_loader.h"
#include "data/image_augment.h"

namespace nairrcore::data {

struct ImageLoaderOptions {
  LoaderOptions loader;
  AugmentSpec augment;
  bool augment_enabled = true;
  at::ScalarType dtype = at::kFloat;  // resident mode output dtype
  bool channels_last = false;         // resident mode output layout
};

class ImageLoader final : public BatchLoader {
 public:
  // images: uint8 [N, 3, 32, 32]; labels: int64 [N]; both on the CPU or on `device`.
  ImageLoader(at::Tensor images, at::Tensor labels, c10::Device device, ImageLoaderOptions options);
  ~ImageLoader() override { stop(); }

 private:
  void alloc_host(at::Tensor& hx, at::Tensor& hy) override;
  void fill_host(const int64_t* index, int64_t n, at::Tensor& hx, at::Tensor& hy) override;
  void make_resident(const at::Tensor& index, const int64_t* host_index, int64_t n,
                     Batch& out) override;
  void prepare_epoch(int64_t epoch) override;

  at::Tensor images_, labels_, padded_;
  ImageLoaderOptions io_;
  at::Tensor params_;         // [N, 5] int32 on the CPU for the current epoch
  at::Tensor params_device_;  // the same on the data's device (resident mode)
};

}  // namespace nairrcore::data
