#include "train/norm_gelu_dropout.h"

#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>
#include <torch/autograd.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "common/errors.h"
#include "common/host_device.h"
#include "train/cpu_matmul.h"
#include "train/dropout_hash.h"
#include "train/gelu_parts.h"

namespace nairrcore::train {

namespace {
constexpr int kLanes = 16;
// Rows are split into this many fixed chunks, so the parameter gradients are
// summed in the same order whatever the thread count.
constexpr int64_t kChunks = 64;

// sum of a[j] * (b ? b[j] : 1) in kLanes partial sums (vectorisable without fast-math)
NAIRR_HOST_INLINE float lane_sum(const float* a, const float* b, int64_t n) {
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
  const float* bias;  // the preceding linear's bias, added to z here (zeros when it has none)
  const float* gamma;
  const float* beta;
  int64_t width;
  bool drop;
  MaskStream mask;
};

// Rows begin..end forward; with kSlope also the GELU's derivative times the
// dropout scale into `slope`, so backward needs no erf, exp or mask hash.
template <bool kSlope, bool kDrop>
NAIRR_HOST_INLINE void forward_rows_impl(const Block& b, float eps, float* __restrict out,
                                         float* __restrict mean_out, float* __restrict rstd_out,
                                         float* __restrict slope, int64_t begin, int64_t end,
                                         float* __restrict centred) {
  // locals, so the loops below keep them in registers
  const int64_t w = b.width;
  const float* __restrict bias = b.bias;
  const float* __restrict gamma = b.gamma;
  const float* __restrict beta = b.beta;
  const MaskStream mask = b.mask;
  for (int64_t r = begin; r < end; ++r) {
    const float* __restrict z = b.z + r * w;
    float* __restrict o = out + r * w;
    float* __restrict sl = kSlope ? slope + r * w : nullptr;  // (no arithmetic on a null slope)
    for (int64_t j = 0; j < w; ++j) centred[j] = z[j] + bias[j];
    const float mean = lane_sum(centred, nullptr, w) / static_cast<float>(w);
    for (int64_t j = 0; j < w; ++j) centred[j] -= mean;
    const float var = lane_sum(centred, centred, w) / static_cast<float>(w);
    const float rstd = 1.f / std::sqrt(var + eps);
    // the element's index as a 32-bit induction of its own: one vector add per step
    auto index = static_cast<uint32_t>(r * w);
    for (int64_t j = 0; j < w; ++j, ++index) {
      const float y = centred[j] * rstd * gamma[j] + beta[j];
      float cdf, y_pdf;
      gelu_parts(y, cdf, y_pdf);
      const float keep = kDrop ? mask.scale(index) : 1.f;
      o[j] = y * cdf * keep;
      if constexpr (kSlope) sl[j] = (cdf + y_pdf) * keep;
    }
    mean_out[r] = mean;
    rstd_out[r] = rstd;
  }
}

// slope: null when no backward follows. (All pointers are distinct arrays:
// __restrict spares the vectoriser runtime alias checks, whose scalar fallback
// it otherwise took.)
__attribute__((target_clones("avx512f", "avx2", "default")))
void forward_rows(const Block& b, float eps, float* __restrict out, float* __restrict mean_out,
                  float* __restrict rstd_out, float* __restrict slope, int64_t begin, int64_t end,
                  float* __restrict centred) {
  if (slope && b.drop) {
    forward_rows_impl<true, true>(b, eps, out, mean_out, rstd_out, slope, begin, end, centred);
  } else if (slope) {
    forward_rows_impl<true, false>(b, eps, out, mean_out, rstd_out, slope, begin, end, centred);
  } else if (b.drop) {
    forward_rows_impl<false, true>(b, eps, out, mean_out, rstd_out, nullptr, begin, end, centred);
  } else {
    forward_rows_impl<false, false>(b, eps, out, mean_out, rstd_out, nullptr, begin, end, centred);
  }
}

// dz for rows begin..end, written over each row's slope once it is read (its
// lines are still in cache, where a fresh buffer would first be fetched for
// writing), and their share of dgamma, dbeta, dbias (added to `partial`, [3, width]).
__attribute__((target_clones("avx512f", "avx2", "default")))
void backward_rows(const float* __restrict block_z, const float* __restrict bias, const float* __restrict gamma,
                   int64_t w, const float* __restrict mean, const float* __restrict rstd,
                   float* __restrict slope_then_dz, const float* __restrict dout, int64_t begin, int64_t end,
                   float* __restrict partial, float* __restrict xhat, float* __restrict dxhat) {
  float* __restrict dgamma = partial;
  float* __restrict dbeta = partial + w;
  float* __restrict dbias = partial + 2 * w;
  const float inv_w = 1.f / static_cast<float>(w);
  for (int64_t r = begin; r < end; ++r) {
    const float* __restrict z = block_z + r * w;
    float* sl_d = slope_then_dz + r * w;
    const float* __restrict g = dout + r * w;
    const float m = mean[r], s = rstd[r];
    for (int64_t j = 0; j < w; ++j) {
      const float xh = (z[j] + bias[j] - m) * s;
      const float dy = g[j] * sl_d[j];
      dgamma[j] += dy * xh;
      dbeta[j] += dy;
      xhat[j] = xh;
      dxhat[j] = dy * gamma[j];
    }
    const float mean_d = lane_sum(dxhat, nullptr, w) * inv_w;
    const float mean_dx = lane_sum(dxhat, xhat, w) * inv_w;
    for (int64_t j = 0; j < w; ++j) {
      const float v = s * (dxhat[j] - mean_d - xhat[j] * mean_dx);
      sl_d[j] = v;
      dbias[j] += v;
    }
  }
}

template <typename Fn>
void for_each_chunk(int64_t rows, const Fn& fn) {
  const int64_t chunks = std::min(kChunks, rows);
  at::parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) fn(c, rows * c / chunks, rows * (c + 1) / chunks);
  });
}

Block make_block(const at::Tensor& z, const at::Tensor& bias, const at::Tensor& gamma, const at::Tensor& beta,
                 double p, int64_t key) {
  return {z.data_ptr<float>(), bias.data_ptr<float>(), gamma.data_ptr<float>(), beta.data_ptr<float>(), z.size(1),
          p > 0, MaskStream(p, static_cast<uint64_t>(key))};
}

struct NormGeluDropout : torch::autograd::Function<NormGeluDropout> {
  // bias: defined, [w] (zeros when the caller has none); slope: whether a backward will follow.
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& z, const at::Tensor& bias,
                            const at::Tensor& gamma, const at::Tensor& beta, double eps, double p, int64_t key,
                            bool slope) {
    const int64_t rows = z.size(0), w = z.size(1);
    auto out = at::empty_like(z);
    auto mean = at::empty({rows}, z.options());
    auto rstd = at::empty({rows}, z.options());
    auto gelu_slope = slope ? at::empty_like(z) : at::Tensor();
    const Block b = make_block(z, bias, gamma, beta, p, key);
    for_each_chunk(rows, [&](int64_t, int64_t begin, int64_t end) {
      std::vector<float> centred(w);
      forward_rows(b, static_cast<float>(eps), out.data_ptr<float>(), mean.data_ptr<float>(), rstd.data_ptr<float>(),
                   slope ? gelu_slope.data_ptr<float>() : nullptr, begin, end, centred.data());
    });
    if (slope) ctx->save_for_backward({z, bias, gamma, mean, rstd, gelu_slope});
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    TORCH_CHECK(saved.size() == 6, "norm_gelu_dropout: backward through a forward that kept no slope");
    // backward turns the saved slope into dz: a second pass (retain_graph) would read gradients as slopes
    TORCH_CHECK(!ctx->saved_data.count("slope_spent"),
                "norm_gelu_dropout: a second backward through the same forward is not supported (its slope "
                "buffer became the first backward's gradient); run the forward again");
    ctx->saved_data["slope_spent"] = true;
    const auto &z = saved[0], &bias = saved[1], &gamma = saved[2];
    const auto &mean = saved[3], &rstd = saved[4], &slope = saved[5];
    const int64_t rows = z.size(0), w = z.size(1);
    const auto dout = grads[0].contiguous();
    auto dz = slope;
    const int64_t chunks = std::min(kChunks, rows);
    std::vector<float> partial(static_cast<size_t>(chunks * 3 * w), 0.f);
    for_each_chunk(rows, [&](int64_t c, int64_t begin, int64_t end) {
      std::vector<float> scratch(2 * w);  // (the dropout mask is inside the slope)
      backward_rows(z.data_ptr<float>(), bias.data_ptr<float>(), gamma.data_ptr<float>(), w, mean.data_ptr<float>(),
                    rstd.data_ptr<float>(), dz.data_ptr<float>(), dout.data_ptr<float>(), begin, end,
                    partial.data() + c * 3 * w, scratch.data(), scratch.data() + w);
    });
    auto sums = at::zeros({3, w}, z.options());
    float* total = sums.data_ptr<float>();
    for (int64_t c = 0; c < chunks; ++c) {
      const float* part = partial.data() + c * 3 * w;
      for (int64_t j = 0; j < 3 * w; ++j) total[j] += part[j];
    }
    const auto dbias = ctx->needs_input_grad(1) ? sums[2] : at::Tensor();
    return {dz, dbias, sums[0], sums[1], at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};
}  // namespace

at::Tensor norm_gelu_dropout(const at::Tensor& z, const at::Tensor& gamma, const at::Tensor& beta, double eps,
                             double p, bool training, const at::Tensor& bias) {
  NAIRR_CHECK_ARG(cpu_fp32_rows(z) && gamma.scalar_type() == at::kFloat && beta.scalar_type() == at::kFloat &&
                      gamma.numel() == z.size(1) && beta.numel() == z.size(1) &&
                      (!bias.defined() || (bias.scalar_type() == at::kFloat && bias.numel() == z.size(1))),
                  "norm_gelu_dropout: expected fp32 CPU rows [n, w] and gamma, beta (and bias) of w elements");
  const bool drop = training && p > 0;
  const int64_t key = drop ? static_cast<int64_t>(draw_dropout_key(z.numel())) : 0;
  const auto b = bias.defined() ? bias.contiguous() : at::zeros({z.size(1)}, z.options());
  return NormGeluDropout::apply(z.contiguous(), b, gamma.contiguous(), beta.contiguous(), eps, drop ? p : 0.0, key,
                                norm_gelu_dropout_backward_follows(z, b, gamma, beta));
}

bool norm_gelu_dropout_backward_follows(const at::Tensor& z, const at::Tensor& bias, const at::Tensor& gamma,
                                        const at::Tensor& beta) {
  return at::GradMode::is_enabled() &&
         (z.requires_grad() || bias.requires_grad() || gamma.requires_grad() || beta.requires_grad());
}

}  // namespace nairrcore::train
