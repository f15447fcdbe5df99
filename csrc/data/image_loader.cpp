#include "data/image_loader.h"

#include <string>

#include "common/errors.h"
#include "data/cifar_reader.h"

namespace nairrcore::data {

namespace {
int64_t checked_images(const at::Tensor& images, const at::Tensor& labels, c10::Device device) {
  NAIRR_CHECK_ARG(images.dim() == 4 && images.size(1) == 3 && images.size(2) == kCifarSide &&
                      images.size(3) == kCifarSide && images.scalar_type() == at::kByte,
                  "image loader: images must be uint8 [N, 3, 32, 32], got " +
                      c10::str(images.sizes()) + " " + std::string(c10::toString(images.scalar_type())));
  NAIRR_CHECK_ARG(labels.dim() == 1 && labels.size(0) == images.size(0),
                  "image loader: expected one label per image, got " + std::to_string(labels.numel()) +
                      " labels for " + std::to_string(images.size(0)) + " images");
  NAIRR_CHECK_ARG(images.device() == labels.device(),
                  "image loader: images and labels must be on the same device");
  NAIRR_CHECK_ARG(images.is_cpu() || images.device() == device,
                  "image loader: data on " + images.device().str() + " cannot feed " + device.str());
  return images.size(0);
}
}  // namespace

ImageLoader::ImageLoader(at::Tensor images, at::Tensor labels, c10::Device device,
                         ImageLoaderOptions options)
    : BatchLoader(checked_images(images, labels, device), device, options.loader),
      images_(images.contiguous()),
      labels_(labels.to(at::kLong).contiguous()),
      io_(options) {
  io_.augment.validate();
  const bool resident = images_.is_cuda() || options.loader.workers == 0;
  set_mode(resident);
  if (resident && io_.augment_enabled) padded_ = pad_images(images_, io_.augment);
}

void ImageLoader::prepare_epoch(int64_t epoch) {
  if (!io_.augment_enabled) return;
  params_ = draw_augment_params(io_.augment, images_.size(0), options().seed, epoch);
  if (resident()) params_device_ = params_.to(images_.device());
}

void ImageLoader::alloc_host(at::Tensor& hx, at::Tensor& hy) {
  const int64_t b = options().batch_size;
  hx = host_buffer({b, 3, kCifarSide, kCifarSide}, at::kFloat);
  hy = host_buffer({b}, at::kLong);
}

void ImageLoader::fill_host(const int64_t* index, int64_t n, at::Tensor& hx, at::Tensor& hy) {
  augment_into(images_, index, n, params_, io_.augment, hx, /*threads=*/1);
  auto* y = hy.data_ptr<int64_t>();
  const auto* labels = labels_.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) y[i] = labels[index[i]];
}

void ImageLoader::make_resident(const at::Tensor& index, const int64_t* /*host_index*/,
                                int64_t /*n*/, Batch& out) {
  auto idx = index.to(images_.device());
  if (io_.augment_enabled) {
    out.x = augment_batch(padded_, idx, params_device_.index_select(0, idx), io_.augment, io_.dtype,
                          io_.channels_last);
  } else {
    out.x = normalize_images(images_.index_select(0, idx), io_.augment, io_.dtype, io_.channels_last);
  }
  out.y = labels_.index_select(0, idx);
  if (out.x.device() != device()) {
    out.x = out.x.to(device(), /*non_blocking=*/false);
    out.y = out.y.to(device(), /*non_blocking=*/false);
  }
}

}  // namespace nairrcore::data
