#pragma once
// CIFAR-style augmentation: random crop from the image padded by `pad` pixels
// (reflect or zero), horizontal flip, optional cutout, then per-channel
// normalisation. The random draws are a pure function of (seed, epoch, sample
// index), so a sample gets the same augmentation whichever batch, rank or
// pipeline (threads on the host, batched tensor ops on the device) makes it.
#include <ATen/ATen.h>

#include <array>
#include <cstdint>

namespace nairrcore::data {

struct AugmentSpec {
  int pad = 4;
  bool reflect = true;  // else zero padding (pixel value 0 before normalisation)
  bool flip = true;
  // Flip each image at random once (from the seed), then every image the other
  // way on every odd epoch (the fast recipe's "alternating flip"); else a fresh
  // coin per (epoch, image).
  bool alternate_flip = false;
  int cutout = 0;  // side of the square set to the mean; 0 = off
  std::array<float, 3> mean{0.4914f, 0.4822f, 0.4465f};
  std::array<float, 3> std{0.2470f, 0.2435f, 0.2616f};
  void validate() const;
};

// Column order of the per-sample parameters.
enum AugmentColumn { kDx = 0, kDy, kFlip, kCutY, kCutX, kAugmentColumns };

// int32 [n, 5]: crop offsets dx, dy in [0, 2*pad], flip in {0,1}, cutout
// centre cy, cx in [0, 32). Identical on every platform.
at::Tensor draw_augment_params(const AugmentSpec& spec, int64_t n, uint64_t seed, int64_t epoch);

// Host path: out[i] = augment(images[index[i]]) as float32 [>=n, 3, 32, 32]
// (contiguous, e.g. pinned). `params` holds a row per data set sample;
// nullptr for `params` means no augmentation (normalise only).
void augment_into(const at::Tensor& images, const int64_t* index, int64_t n,
                  const at::Tensor& params, const AugmentSpec& spec, at::Tensor& out,
                  int threads = 1);

// Device path, batched tensor ops on whatever device the inputs live on:
// `padded` from pad_images(), `index` and `params` rows for the batch.
// Returns `dtype` [n, 3, 32, 32], channels_last if asked.
at::Tensor augment_batch(const at::Tensor& padded, const at::Tensor& index,
                         const at::Tensor& params, const AugmentSpec& spec, at::ScalarType dtype,
                         bool channels_last);

// uint8 [N, 3, 32+2p, 32+2p] padded as the spec says (reflect or zeros).
at::Tensor pad_images(const at::Tensor& images, const AugmentSpec& spec);

// Normalisation only (evaluation): uint8 [N,3,32,32] -> dtype, same arithmetic.
at::Tensor normalize_images(const at::Tensor& images, const AugmentSpec& spec,
                            at::ScalarType dtype, bool channels_last);

}  // namespace nairrcore::data
