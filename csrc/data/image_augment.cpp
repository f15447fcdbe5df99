#include "data/image_augment.h"

#include <string>
#include <vector>

#include "common/errors.h"
#include "common/parallel.h"
#include "common/rng.h"
#include "data/cifar_reader.h"

namespace nairrcore::data {

namespace {
constexpr int64_t S = kCifarSide;
constexpr uint64_t kAugmentStream = 0x61756731;  // distinct from the shuffle's stream
constexpr uint64_t kFlipStream = 0x666c6970;     // alternating flips: one draw per image

// Source coordinate of padded coordinate j, or -1 for a zero pixel.
std::vector<int64_t> pad_map(const AugmentSpec& spec) {
  std::vector<int64_t> map(S + 2 * spec.pad);
  for (int64_t j = 0; j < static_cast<int64_t>(map.size()); ++j) {
    int64_t s = j - spec.pad;
    if (s < 0 || s >= S) {
      if (!spec.reflect) {
        s = -1;
      } else {
        s = s < 0 ? -s : 2 * (S - 1) - s;
      }
    }
    map[j] = s;
  }
  return map;
}

at::Tensor channel_tensor(const std::array<float, 3>& v, const at::TensorOptions& o) {
  float scaled[3] = {v[0] * 255.f, v[1] * 255.f, v[2] * 255.f};
  return at::from_blob(scaled, {1, 3, 1, 1}, at::kFloat).clone().to(o);
}
}  // namespace

void AugmentSpec::validate() const {
  NAIRR_CHECK_ARG(pad >= 0 && pad < S, "augment pad: expected 0..31, got " + std::to_string(pad));
  NAIRR_CHECK_ARG(cutout >= 0 && cutout <= S,
                  "augment cutout: expected 0..32, got " + std::to_string(cutout));
  for (float s : std) NAIRR_CHECK_ARG(s > 0, "augment std: every channel's std must be > 0");
}

at::Tensor draw_augment_params(const AugmentSpec& spec, int64_t n, uint64_t seed, int64_t epoch) {
  spec.validate();
  auto params = at::empty({n, kAugmentColumns}, at::kInt);
  auto* p = params.data_ptr<int32_t>();
  const uint64_t key = mix_key(seed, static_cast<uint64_t>(epoch), kAugmentStream);
  const uint64_t crop = 2 * static_cast<uint64_t>(spec.pad) + 1;
  const uint64_t flip_key = mix_key(seed, 0, kFlipStream);
  const int32_t odd_epoch = static_cast<int32_t>(epoch & 1);
  parallel_for((n + 4095) / 4096, 0, [&](int64_t chunk) {
    const int64_t end = std::min(n, (chunk + 1) * 4096);
    for (int64_t i = chunk * 4096; i < end; ++i) {
      uint64_t state = key ^ (static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ull);
      int32_t* row = p + i * kAugmentColumns;
      row[kDx] = static_cast<int32_t>(uniform_below(state, crop));
      row[kDy] = static_cast<int32_t>(uniform_below(state, crop));
      row[kFlip] = spec.flip ? static_cast<int32_t>(uniform_below(state, 2)) : 0;
      if (spec.flip && spec.alternate_flip) {
        uint64_t once = flip_key ^ (static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ull);
        row[kFlip] = static_cast<int32_t>(uniform_below(once, 2)) ^ odd_epoch;
      }
      row[kCutY] = static_cast<int32_t>(uniform_below(state, S));
      row[kCutX] = static_cast<int32_t>(uniform_below(state, S));
    }
  });
  return params;
}

void augment_into(const at::Tensor& images, const int64_t* index, int64_t n,
                  const at::Tensor& params, const AugmentSpec& spec, at::Tensor& out,
                  int threads) {
  NAIRR_CHECK_ARG(images.dim() == 4 && images.size(1) == 3 && images.size(2) == S &&
                      images.size(3) == S && images.scalar_type() == at::kByte &&
                      images.is_contiguous() && images.is_cpu(),
                  "augment: images must be contiguous uint8 [N, 3, 32, 32] on the CPU, got " +
                      c10::str(images.sizes()));
  NAIRR_CHECK_ARG(out.dim() == 4 && out.size(0) >= n && out.scalar_type() == at::kFloat &&
                      out.is_contiguous() && out.size(1) == 3 && out.size(2) == S,
                  "augment: out must be contiguous float32 [>=n, 3, 32, 32]");
  const bool augment = params.defined();
  if (augment) {
    NAIRR_CHECK_ARG(params.size(0) == images.size(0) && params.size(1) == kAugmentColumns,
                    "augment: params must have one row per image");
  }
  const auto map = pad_map(spec);
  const int64_t total = images.size(0);
  const uint8_t* src = images.data_ptr<uint8_t>();
  const int32_t* prm = augment ? params.data_ptr<int32_t>() : nullptr;
  float* dst = out.data_ptr<float>();
  float m[3], s[3];
  for (int c = 0; c < 3; ++c) {
    m[c] = spec.mean[c] * 255.f;
    s[c] = spec.std[c] * 255.f;
  }
  const int64_t half = spec.cutout / 2;
  parallel_for(n, threads, [&](int64_t i) {
    const int64_t k = index ? index[i] : i;
    NAIRR_CHECK_ARG(k >= 0 && k < total, "augment: index " + std::to_string(k) + " out of range");
    const uint8_t* img = src + k * kCifarImageBytes;
    float* o = dst + i * kCifarImageBytes;
    int64_t dx = 0, dy = 0, cy = -S, cx = -S;
    bool flip = false;
    if (prm != nullptr) {
      const int32_t* row = prm + k * kAugmentColumns;
      dx = row[kDx];
      dy = row[kDy];
      flip = row[kFlip] != 0;
      if (spec.cutout > 0) {
        cy = row[kCutY] - half;
        cx = row[kCutX] - half;
      }
    } else {
      dx = dy = spec.pad;  // the centre crop is the image itself
    }
    for (int c = 0; c < 3; ++c) {
      for (int64_t r = 0; r < S; ++r) {
        const int64_t sr = map[dy + r];
        const bool cut_row = r >= cy && r < cy + spec.cutout;
        for (int64_t col = 0; col < S; ++col) {
          const int64_t pc = dx + (flip ? S - 1 - col : col);
          const int64_t sc = map[pc];
          float v;
          if (cut_row && col >= cx && col < cx + spec.cutout) {
            v = 0.f;
          } else {
            const float px = (sr < 0 || sc < 0) ? 0.f : static_cast<float>(img[(c * S + sr) * S + sc]);
            v = (px - m[c]) / s[c];
          }
          o[(c * S + r) * S + col] = v;
        }
      }
    }
  });
}

at::Tensor pad_images(const at::Tensor& images, const AugmentSpec& spec) {
  NAIRR_CHECK_ARG(images.dim() == 4 && images.size(1) == 3 && images.scalar_type() == at::kByte,
                  "pad_images: expected uint8 [N, 3, 32, 32]");
  if (spec.pad == 0) return images.contiguous();
  const auto map = pad_map(spec);
  std::vector<int64_t> clamped(map.size());
  for (size_t j = 0; j < map.size(); ++j) clamped[j] = std::max<int64_t>(map[j], 0);
  auto idx = at::tensor(clamped, at::kLong).to(images.device());
  auto padded = images.index_select(2, idx).index_select(3, idx);
  if (!spec.reflect) {
    const int64_t P = S + 2 * spec.pad;
    auto border = at::ones({P}, at::TensorOptions().dtype(at::kBool).device(images.device()));
    border.narrow(0, spec.pad, S).fill_(false);
    auto mask = border.view({1, 1, P, 1}).logical_or(border.view({1, 1, 1, P}));
    padded.masked_fill_(mask, 0);
  }
  return padded.contiguous();
}

at::Tensor augment_batch(const at::Tensor& padded, const at::Tensor& index,
                         const at::Tensor& params, const AugmentSpec& spec, at::ScalarType dtype,
                         bool channels_last) {
  const int64_t P = S + 2 * spec.pad;
  NAIRR_CHECK_ARG(padded.dim() == 4 && padded.size(2) == P && padded.size(3) == P &&
                      padded.is_contiguous(),
                  "augment_batch: padded must be contiguous [N, 3, " + std::to_string(P) + ", " +
                      std::to_string(P) + "]");
  const auto lo = at::TensorOptions().dtype(at::kLong).device(padded.device());
  auto idx = index.to(lo);
  auto prm = params.to(lo);  // [n, 5]
  auto ar = at::arange(S, lo);
  auto dx = prm.select(1, kDx).unsqueeze(1);
  auto rows = prm.select(1, kDy).unsqueeze(1) + ar;  // [n, S]
  auto flip = prm.select(1, kFlip).unsqueeze(1).to(at::kBool);
  auto cols = at::where(flip, dx + (S - 1) - ar, dx + ar);  // [n, S]
  auto chan = at::arange(3, lo).view({1, 3, 1, 1});
  auto flat = idx.view({-1, 1, 1, 1}) * (3 * P * P) + chan * (P * P) +
              rows.view({-1, 1, S, 1}) * P + cols.view({-1, 1, 1, S});
  auto pixels = at::take(padded, flat);  // uint8 [n, 3, S, S]
  const auto fo = at::TensorOptions().dtype(at::kFloat).device(padded.device());
  auto out = pixels.to(at::kFloat).sub_(channel_tensor(spec.mean, fo)).div_(channel_tensor(spec.std, fo));
  if (spec.cutout > 0) {
    const int64_t half = spec.cutout / 2;
    auto cy = prm.select(1, kCutY).view({-1, 1, 1}) - half;
    auto cx = prm.select(1, kCutX).view({-1, 1, 1}) - half;
    auto r = ar.view({1, S, 1});
    auto c = ar.view({1, 1, S});
    auto inside = (r >= cy).logical_and(r < cy + spec.cutout).logical_and(c >= cx).logical_and(c < cx + spec.cutout);
    out.masked_fill_(inside.unsqueeze(1), 0.f);
  }
  if (dtype != at::kFloat) out = out.to(dtype);
  return channels_last ? out.contiguous(at::MemoryFormat::ChannelsLast) : out;
}

at::Tensor normalize_images(const at::Tensor& images, const AugmentSpec& spec,
                            at::ScalarType dtype, bool channels_last) {
  NAIRR_CHECK_ARG(images.dim() == 4 && images.size(1) == 3 && images.scalar_type() == at::kByte,
                  "normalize_images: expected uint8 [N, 3, 32, 32], got " + c10::str(images.sizes()));
  const auto fo = at::TensorOptions().dtype(at::kFloat).device(images.device());
  auto out = images.to(at::kFloat).sub_(channel_tensor(spec.mean, fo)).div_(channel_tensor(spec.std, fo));
  if (dtype != at::kFloat) out = out.to(dtype);
  return channels_last ? out.contiguous(at::MemoryFormat::ChannelsLast) : out;
}

}  // namespace nairrcore::data
