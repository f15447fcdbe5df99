#pragma once
// GELU's Phi(y) and y * phi(y) with one exponential, for the GPU block
// (norm_gelu_dropout.cu), whose backward needs both: erfc(x) = poly(t) e^(-x^2)
// with t = 1 / (1 + p x), x = |y| / sqrt(2) (Abramowitz & Stegun 7.1.26,
// |error| < 1.5e-7), and phi(y) = e^(-x^2) / sqrt(2 pi) is that exponential.
// Host code (tests) computes the same formula with exact division and exp.
#include <cmath>

#include "common/host_device.h"

namespace nairrcore::train {

NAIRR_HOST_DEVICE void gelu_parts(float y, float& cdf, float& y_pdf) {
  constexpr float kInvSqrt2 = 0.70710678118654752f;
  constexpr float kInvSqrt2Pi = 0.39894228040143268f;
  const float x = fabsf(y) * kInvSqrt2;
#if defined(__CUDA_ARCH__)
  const float t = __fdividef(1.f, fmaf(0.3275911f, x, 1.f));
  const float e = __expf(-x * x);
#else
  const float t = 1.f / fmaf(0.3275911f, x, 1.f);
  const float e = expf(-x * x);
#endif
  float poly = 1.061405429f;
  poly = fmaf(poly, t, -1.453152027f);
  poly = fmaf(poly, t, 1.421413741f);
  poly = fmaf(poly, t, -0.284496736f);
  poly = fmaf(poly, t, 0.254829592f);
  const float half_erfc = 0.5f * poly * t * e;
  cdf = y < 0.f ? half_erfc : 1.f - half_erfc;
  y_pdf = y * kInvSqrt2Pi * e;
}

}  // namespace nairrcore::train
