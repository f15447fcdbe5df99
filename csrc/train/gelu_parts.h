#pragma once
// GELU's Phi(y) and y * phi(y) with one exponential, for both fused
// norm-GELU-dropout blocks (norm_gelu_dropout.cpp on the CPU, .cu on the GPU),
// whose backward needs their sum: erfc(x) = poly(t) e^(-x^2) with
// t = 1 / (1 + p x), x = |y| / sqrt(2) (Abramowitz & Stegun 7.1.26,
// |error| < 1.5e-7), and phi(y) = e^(-x^2) / sqrt(2 pi) is that exponential.
// On the CPU the exponential is written out so that the loops around it vectorise.
#include <cmath>
#include <cstdint>

#include "common/host_device.h"

namespace nairrcore::train {

#if !defined(__CUDA_ARCH__)
// e^x for x <= 0 (0 below -87): Cephes' expf polynomial after range
// reduction, relative error < 1e-7. NaN gives e^-87, not a NaN-to-int
// conversion: gelu_parts carries a NaN through its other factors. (Selects on
// values, not std::min/max, whose references defeat if-conversion.)
NAIRR_HOST_INLINE float exp_nonpositive(float x) {
  const float c = x >= -87.f ? x : -87.f;
  const float n = std::floor(c * 1.44269504f + 0.5f);
  const float r = c - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  const float e = (p * r * r + r + 1.f) * __builtin_bit_cast(float, bits);
  return x < -87.f ? 0.f : e;
}
#endif

// a * b + c: fmaf on the GPU; on the CPU left to the compiler, which
// contracts it where the target has FMA (fmaf would be a libm call elsewhere).
NAIRR_HOST_DEVICE float mul_add(float a, float b, float c) {
#if defined(__CUDA_ARCH__)
  return fmaf(a, b, c);
#else
  return a * b + c;
#endif
}

NAIRR_HOST_DEVICE void gelu_parts(float y, float& cdf, float& y_pdf) {
  constexpr float kInvSqrt2 = 0.70710678118654752f;
  constexpr float kInvSqrt2Pi = 0.39894228040143268f;
  const float x = fabsf(y) * kInvSqrt2;
#if defined(__CUDA_ARCH__)
  const float t = __fdividef(1.f, mul_add(0.3275911f, x, 1.f));
  const float e = __expf(-x * x);
#else
  const float t = 1.f / mul_add(0.3275911f, x, 1.f);
  const float e = exp_nonpositive(-x * x);
#endif
  float poly = 1.061405429f;
  poly = mul_add(poly, t, -1.453152027f);
  poly = mul_add(poly, t, 1.421413741f);
  poly = mul_add(poly, t, -0.284496736f);
  poly = mul_add(poly, t, 0.254829592f);
  const float half_erfc = 0.5f * poly * t * e;
  cdf = y < 0.f ? half_erfc : 1.f - half_erfc;
  y_pdf = y * kInvSqrt2Pi * e;
}

}  // namespace nairrcore::train
