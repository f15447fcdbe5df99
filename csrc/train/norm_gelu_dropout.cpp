#include "train/norm_gelu_dropout.h"

#include <ATen/Parallel.h>
#include <torch/autograd.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "common/errors.h"
#include "train/cpu_matmul.h"
#include "train/dropout_hash.h"

#define NAIRR_INLINE __attribute__((always_inline)) inline

namespace nairrcore::train {

namespace {
constexpr int kLanes = 16;
// Rows are split into this many fixed chunks, so the parameter gradients are
// summed in the same order whatever the thread count.
constexpr int64_t kChunks = 64;
constexpr float kInvSqrt2 = 0.70710678118654752f;
constexpr float kInvSqrt2Pi = 0.39894228040143268f;

// erf as x * P(x^2) / Q(x^2) on [-4, 4] (Eigen's fast float erf; |error| < 5e-7):
// multiplies, adds and one divide, so the loops around it vectorise.
// (Selects on values, not std::min/max, whose references defeat if-conversion.)
NAIRR_INLINE float erf_approx(float a) {
  float x = a < -4.f ? -4.f : a;
  x = x > 4.f ? 4.f : x;
  const float x2 = x * x;
  float p = -2.72614225801306e-10f;
  p = p * x2 + 2.77068142495902e-08f;
  p = p * x2 - 2.10102402082508e-06f;
  p = p * x2 - 5.69250639462346e-05f;
  p = p * x2 - 7.34990630326855e-04f;
  p = p * x2 - 2.95459980854025e-03f;
  p = p * x2 - 1.60960333262415e-02f;
  float q = -1.45660718464996e-05f;
  q = q * x2 - 2.13374055278905e-04f;
  q = q * x2 - 1.68282697438203e-03f;
  q = q * x2 - 7.37332916720468e-03f;
  q = q * x2 - 1.42647390514189e-02f;
  return x * p / q;
}

// e^x for x <= 0: Cephes' expf polynomial after range reduction (relative error < 1e-7).
NAIRR_INLINE float exp_nonpositive(float x) {
  x = x < -87.f ? -87.f : x;
  const float n = std::floor(x * 1.44269504f + 0.5f);
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  return (p * r * r + r + 1.f) * __builtin_bit_cast(float, bits);
}

// sum of a[j] * (b ? b[j] : 1) in kLanes partial sums (vectorisable without fast-math)
NAIRR_INLINE float lane_sum(const float* a, const float* b, int64_t n) {
  float acc[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (int k = 0; k < kLanes; ++k) acc[k] += b ? a[j + k] * b[j + k] : a[j + k];
  float s = 0.f;
  for (int k = 0; k < kLanes; ++k) s += acc[k];
  for (; j < n; ++j) s += b ? a[j] * b[j] : a[j];
  return s;
}

struct Block {
  const float* z;
  const float* gamma;
  const float* beta;
  int64_t width;
  bool drop;
  MaskStream mask;
};

// (All pointers are distinct arrays: __restrict spares the vectoriser runtime
// alias checks, whose scalar fallback it otherwise took.)
__attribute__((target_clones("avx512f", "avx2", "default")))
void forward_rows(const Block& b, float eps, float* __restrict out, float* __restrict mean_out,
                  float* __restrict rstd_out, int64_t begin, int64_t end, float* __restrict centred) {
  // locals, so the loops below keep them in registers (and can if-convert the mask)
  const int64_t w = b.width;
  const float* __restrict gamma = b.gamma;
  const float* __restrict beta = b.beta;
  const MaskStream mask = b.mask;
  for (int64_t r = begin; r < end; ++r) {
    const float* __restrict z = b.z + r * w;
    float* __restrict o = out + r * w;
    const float mean = lane_sum(z, nullptr, w) / static_cast<float>(w);
    for (int64_t j = 0; j < w; ++j) centred[j] = z[j] - mean;
    const float var = lane_sum(centred, centred, w) / static_cast<float>(w);
    const float rstd = 1.f / std::sqrt(var + eps);
    for (int64_t j = 0; j < w; ++j) {
      const float y = centred[j] * rstd * gamma[j] + beta[j];
      o[j] = 0.5f * y * (1.f + erf_approx(y * kInvSqrt2));
    }
    if (b.drop) {
      const auto first = static_cast<uint32_t>(r * w);
      for (int64_t j = 0; j < w; ++j) o[j] *= mask.scale(first + static_cast<uint32_t>(j));
    }
    mean_out[r] = mean;
    rstd_out[r] = rstd;
  }
}

// dz for rows begin..end, and their share of dgamma, dbeta (added to `partial`, [2, width]).
__attribute__((target_clones("avx512f", "avx2", "default")))
void backward_rows(const Block& b, const float* __restrict mean, const float* __restrict rstd,
                   const float* __restrict dout, float* __restrict dz, int64_t begin, int64_t end,
                   float* __restrict partial, float* __restrict xhat, float* __restrict dxhat) {
  const int64_t w = b.width;
  const float* __restrict gamma = b.gamma;
  const float* __restrict beta = b.beta;
  const MaskStream mask = b.mask;
  float* __restrict dgamma = partial;
  float* __restrict dbeta = partial + w;
  const float inv_w = 1.f / static_cast<float>(w);
  for (int64_t r = begin; r < end; ++r) {
    const float* __restrict z = b.z + r * w;
    const float* __restrict g = dout + r * w;
    float* __restrict d = dz + r * w;
    const float m = mean[r], s = rstd[r];
    for (int64_t j = 0; j < w; ++j) xhat[j] = (z[j] - m) * s;
    if (b.drop) {
      const auto first = static_cast<uint32_t>(r * w);
      for (int64_t j = 0; j < w; ++j) dxhat[j] = g[j] * mask.scale(first + static_cast<uint32_t>(j));
    } else {
      for (int64_t j = 0; j < w; ++j) dxhat[j] = g[j];
    }
    for (int64_t j = 0; j < w; ++j) {
      const float y = xhat[j] * gamma[j] + beta[j];
      const float cdf = 0.5f * (1.f + erf_approx(y * kInvSqrt2));
      const float pdf = kInvSqrt2Pi * exp_nonpositive(-0.5f * y * y);
      const float dy = dxhat[j] * (cdf + y * pdf);
      dgamma[j] += dy * xhat[j];
      dbeta[j] += dy;
      dxhat[j] = dy * gamma[j];
    }
    const float mean_d = lane_sum(dxhat, nullptr, w) * inv_w;
    const float mean_dx = lane_sum(dxhat, xhat, w) * inv_w;
    for (int64_t j = 0; j < w; ++j) d[j] = s * (dxhat[j] - mean_d - xhat[j] * mean_dx);
  }
}

template <typename Fn>
void for_each_chunk(int64_t rows, const Fn& fn) {
  const int64_t chunks = std::min(kChunks, rows);
  at::parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) fn(c, rows * c / chunks, rows * (c + 1) / chunks);
  });
}

Block make_block(const at::Tensor& z, const at::Tensor& gamma, const at::Tensor& beta, double p, int64_t key) {
  return {z.data_ptr<float>(), gamma.data_ptr<float>(), beta.data_ptr<float>(), z.size(1), p > 0,
          MaskStream(p, static_cast<uint64_t>(key))};
}

struct NormGeluDropout : torch::autograd::Function<NormGeluDropout> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& z, const at::Tensor& gamma,
                            const at::Tensor& beta, double eps, double p, int64_t key) {
    const int64_t rows = z.size(0), w = z.size(1);
    auto out = at::empty_like(z);
    auto mean = at::empty({rows}, z.options());
    auto rstd = at::empty({rows}, z.options());
    const Block b = make_block(z, gamma, beta, p, key);
    for_each_chunk(rows, [&](int64_t, int64_t begin, int64_t end) {
      std::vector<float> centred(w);
      forward_rows(b, static_cast<float>(eps), out.data_ptr<float>(), mean.data_ptr<float>(),
                   rstd.data_ptr<float>(), begin, end, centred.data());
    });
    ctx->save_for_backward({z, gamma, beta, mean, rstd});
    ctx->saved_data["p"] = p;
    ctx->saved_data["key"] = key;
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &z = saved[0], &gamma = saved[1], &beta = saved[2], &mean = saved[3], &rstd = saved[4];
    const int64_t rows = z.size(0), w = z.size(1);
    const auto dout = grads[0].contiguous();
    auto dz = at::empty_like(z);
    const int64_t chunks = std::min(kChunks, rows);
    std::vector<float> partial(static_cast<size_t>(chunks * 2 * w), 0.f);
    const Block b = make_block(z, gamma, beta, ctx->saved_data["p"].toDouble(), ctx->saved_data["key"].toInt());
    for_each_chunk(rows, [&](int64_t c, int64_t begin, int64_t end) {
      std::vector<float> scratch(2 * w);
      backward_rows(b, mean.data_ptr<float>(), rstd.data_ptr<float>(), dout.data_ptr<float>(),
                    dz.data_ptr<float>(), begin, end, partial.data() + c * 2 * w, scratch.data(),
                    scratch.data() + w);
    });
    auto dgamma = at::zeros({w}, z.options());
    auto dbeta = at::zeros({w}, z.options());
    float* dg = dgamma.data_ptr<float>();
    float* db = dbeta.data_ptr<float>();
    for (int64_t c = 0; c < chunks; ++c) {
      const float* part = partial.data() + c * 2 * w;
      for (int64_t j = 0; j < w; ++j) {
        dg[j] += part[j];
        db[j] += part[w + j];
      }
    }
    return {dz, dgamma, dbeta, at::Tensor(), at::Tensor(), at::Tensor()};
  }
};
}  // namespace

at::Tensor norm_gelu_dropout(const at::Tensor& z, const at::Tensor& gamma, const at::Tensor& beta, double eps,
                             double p, bool training) {
  NAIRR_CHECK_ARG(cpu_fp32_rows(z) && gamma.scalar_type() == at::kFloat && beta.scalar_type() == at::kFloat &&
                      gamma.numel() == z.size(1) && beta.numel() == z.size(1),
                  "norm_gelu_dropout: expected fp32 CPU rows [n, w] and gamma, beta of w elements");
  const bool drop = training && p > 0;
  const int64_t key = drop ? static_cast<int64_t>(draw_dropout_key(z.numel())) : 0;
  return NormGeluDropout::apply(z.contiguous(), gamma.contiguous(), beta.contiguous(), eps, drop ? p : 0.0, key);
}

}  // namespace nairrcore::train
