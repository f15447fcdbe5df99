// 2x2, stride-2 max pooling of channels-last activations, forward and
// backward, for the fast net's conv groups. ATen's NHWC kernels keep an int64
// index per output and scatter gradients with a loop over every window that
// may cover an input; these windows never overlap, so each thread reads its
// window's four vectors of channels once, keeps a one-byte winner, and
// backward writes every input of a window exactly once (no atomics; with an
// odd height or width the last row or column is in no window, as in ATen's
// floor mode, and the caller zero-fills it).
// Ties and NaN follow ATen: the first maximum in row-major order wins, and a
// NaN wins over any number and over an earlier NaN.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "train/cuda/max_pool_launch.h"

namespace nairrcore::train::cuda {

namespace {
constexpr int kThreads = 256;

template <typename T, int V>
struct alignas(sizeof(T) * V) Pack {
  T v[V];
};

__device__ __forceinline__ float as_float(float v) { return v; }
__device__ __forceinline__ float as_float(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ __forceinline__ float as_float(__half v) { return __half2float(v); }

template <typename T>
__device__ __forceinline__ T zero() {
  return T(0.f);
}

// Output element i*V.. of the flat [n, oh, ow, c/V] index -> the window's top-left input offset.
__device__ __forceinline__ int64_t window_base(int64_t i, int cv, int ow_count, int oh_count, int h, int w, int c,
                                               int v) {
  const int g = static_cast<int>(i % cv);
  int64_t r = i / cv;
  const int ow = static_cast<int>(r % ow_count);
  r /= ow_count;
  const int oh = static_cast<int>(r % oh_count);
  const int64_t n = r / oh_count;
  return ((n * h + 2 * oh) * w + 2 * ow) * c + static_cast<int64_t>(g) * v;
}

template <typename T, int V>
__global__ void max_pool_forward(const T* __restrict__ x, T* __restrict__ out, uint8_t* __restrict__ which,
                                 int64_t total, int oh, int ow, int h, int w, int c) {
  const int cv = c / V;
  const int64_t row = static_cast<int64_t>(w) * c;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t base = window_base(i, cv, ow, oh, h, w, c, V);
    Pack<T, V> in[4];
    in[0] = *reinterpret_cast<const Pack<T, V>*>(x + base);
    in[1] = *reinterpret_cast<const Pack<T, V>*>(x + base + c);
    in[2] = *reinterpret_cast<const Pack<T, V>*>(x + base + row);
    in[3] = *reinterpret_cast<const Pack<T, V>*>(x + base + row + c);
    Pack<T, V> o;
    Pack<uint8_t, V> won;
#pragma unroll
    for (int k = 0; k < V; ++k) {
      float best = as_float(in[0].v[k]);
      uint8_t j = 0;
#pragma unroll
      for (uint8_t q = 1; q < 4; ++q) {
        const float v = as_float(in[q].v[k]);
        if (v > best || isnan(v)) {
          best = v;
          j = q;
        }
      }
      o.v[k] = in[j].v[k];
      won.v[k] = j;
    }
    *reinterpret_cast<Pack<T, V>*>(out + i * V) = o;
    *reinterpret_cast<Pack<uint8_t, V>*>(which + i * V) = won;
  }
}

template <typename T, int V>
__global__ void max_pool_backward(const T* __restrict__ dout, const uint8_t* __restrict__ which,
                                  T* __restrict__ dx, int64_t total, int oh, int ow, int h, int w, int c) {
  const int cv = c / V;
  const int64_t row = static_cast<int64_t>(w) * c;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t base = window_base(i, cv, ow, oh, h, w, c, V);
    const Pack<T, V> g = *reinterpret_cast<const Pack<T, V>*>(dout + i * V);
    const Pack<uint8_t, V> won = *reinterpret_cast<const Pack<uint8_t, V>*>(which + i * V);
    Pack<T, V> d[4];
#pragma unroll
    for (int k = 0; k < V; ++k) {
#pragma unroll
      for (int q = 0; q < 4; ++q) d[q].v[k] = won.v[k] == q ? g.v[k] : zero<T>();
    }
    *reinterpret_cast<Pack<T, V>*>(dx + base) = d[0];
    *reinterpret_cast<Pack<T, V>*>(dx + base + c) = d[1];
    *reinterpret_cast<Pack<T, V>*>(dx + base + row) = d[2];
    *reinterpret_cast<Pack<T, V>*>(dx + base + row + c) = d[3];
  }
}

int64_t blocks_for(int64_t total) {
  return std::max<int64_t>(1, std::min<int64_t>((total + kThreads - 1) / kThreads, int64_t{1} << 30));
}

bool aligned(const void* p, int bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

// 16-byte vectors of channels where the channel count and the pointers allow, else one channel per thread.
template <typename T>
int vector_width(int c, const void* a, const void* b) {
  constexpr int v = 16 / sizeof(T);
  return c % v == 0 && aligned(a, 16) && aligned(b, 16) ? v : 1;
}

template <typename T>
cudaError_t forward_typed(const MaxPool2x2& a, cudaStream_t stream) {
  const int oh = a.h / 2, ow = a.w / 2;
  const auto* x = static_cast<const T*>(a.x);
  auto* out = static_cast<T*>(a.out);
  constexpr int kV = 16 / sizeof(T);
  if (vector_width<T>(a.c, a.x, a.out) == kV && aligned(a.which, kV)) {
    const int64_t total = a.n * oh * ow * (a.c / kV);
    max_pool_forward<T, kV><<<blocks_for(total), kThreads, 0, stream>>>(x, out, a.which, total, oh, ow, a.h, a.w, a.c);
  } else {
    const int64_t total = a.n * oh * ow * a.c;
    max_pool_forward<T, 1><<<blocks_for(total), kThreads, 0, stream>>>(x, out, a.which, total, oh, ow, a.h, a.w, a.c);
  }
  return cudaGetLastError();
}

template <typename T>
cudaError_t backward_typed(const MaxPool2x2Backward& a, cudaStream_t stream) {
  const int oh = a.h / 2, ow = a.w / 2;
  const auto* dout = static_cast<const T*>(a.dout);
  auto* dx = static_cast<T*>(a.dx);
  constexpr int kV = 16 / sizeof(T);
  if (vector_width<T>(a.c, a.dout, a.dx) == kV && aligned(a.which, kV)) {
    const int64_t total = a.n * oh * ow * (a.c / kV);
    max_pool_backward<T, kV><<<blocks_for(total), kThreads, 0, stream>>>(dout, a.which, dx, total, oh, ow, a.h,
                                                                         a.w, a.c);
  } else {
    const int64_t total = a.n * oh * ow * a.c;
    max_pool_backward<T, 1><<<blocks_for(total), kThreads, 0, stream>>>(dout, a.which, dx, total, oh, ow, a.h, a.w, a.c);
  }
  return cudaGetLastError();
}
}  // namespace

cudaError_t launch_max_pool_2x2(const MaxPool2x2& args, cudaStream_t stream) {
  if (args.n == 0 || args.c == 0 || args.h == 0 || args.w == 0) return cudaSuccess;
  switch (args.type) {
    case RowType::kBFloat16: return forward_typed<__nv_bfloat16>(args, stream);
    case RowType::kHalf: return forward_typed<__half>(args, stream);
    default: return forward_typed<float>(args, stream);
  }
}

cudaError_t launch_max_pool_2x2_backward(const MaxPool2x2Backward& args, cudaStream_t stream) {
  if (args.n == 0 || args.c == 0 || args.h == 0 || args.w == 0) return cudaSuccess;
  switch (args.type) {
    case RowType::kBFloat16: return backward_typed<__nv_bfloat16>(args, stream);
    case RowType::kHalf: return backward_typed<__half>(args, stream);
    default: return backward_typed<float>(args, stream);
  }
}

}  // namespace nairrcore::train::cuda
