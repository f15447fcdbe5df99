// (bias ->) LayerNorm -> GELU (erf) -> dropout of the forecasting MLP's blocks
// on the GPU. One warp per row keeps the row in registers, loaded and stored
// 16 bytes per lane where the width and the pointers allow: forward reads the
// block input once and writes the output once (and, when a backward follows,
// the GELU's slope times the dropout scale); backward reads the input, the
// output gradient and that slope and writes the input gradient, a few
// multiply-adds per element. Backward recomputing erf, exp and the mask hash
// instead made it bound by arithmetic (about 140 instructions per element).
// The preceding linear's bias is added as rows are read and its gradient
// summed with gamma's and beta's, which spares that linear its bias passes.
// Parameter gradients are summed per block in a fixed order, then over blocks
// in a second launch: the same inputs give the same bits. The dropout key
// comes from torch's CUDA generator as a graph-safe PhiloxCudaState, read on
// the device, so a replayed CUDA graph draws a new mask every step.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <initializer_list>
#include <type_traits>

#include <ATen/cuda/PhiloxCudaState.h>

#include "train/cuda/norm_gelu_dropout_launch.h"
#include "train/dropout_hash.h"
#include "train/gelu_parts.h"

namespace nairrcore::train::cuda {

namespace {
constexpr int kWarps = 4;        // warps (rows in flight) per block
constexpr int kRowsPerWarp = 8;  // backward: rows each warp walks (8192 rows: 256 blocks, one wave on an H100)
constexpr int kReduceWarps = 8;  // reduce_partials_kernel: warps per 32 columns

__device__ __forceinline__ float to_float(float v) { return v; }
__device__ __forceinline__ float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ __forceinline__ float to_float(__half v) { return __half2float(v); }
template <typename T>
__device__ __forceinline__ T from_float(float v) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>) return __float2bfloat16_rn(v);
  else if constexpr (std::is_same_v<T, __half>) return __float2half_rn(v);
  else return v;
}

// V values of T as one access (16 bytes when V > 1).
template <typename T, int V>
struct alignas(sizeof(T) * V) Pack {
  T val[V];
};

template <int V, typename T>
__device__ __forceinline__ void load_pack(const T* p, float (&v)[V]) {
  const Pack<T, V> pk = *reinterpret_cast<const Pack<T, V>*>(p);
#pragma unroll
  for (int i = 0; i < V; ++i) v[i] = to_float(pk.val[i]);
}

template <int V, typename T>
__device__ __forceinline__ void store_pack(T* p, const float (&v)[V]) {
  Pack<T, V> pk;
#pragma unroll
  for (int i = 0; i < V; ++i) pk.val[i] = from_float<T>(v[i]);
  *reinterpret_cast<Pack<T, V>*>(p) = pk;
}

// V float parameters (gamma, beta, bias), four at a time when V allows.
template <int V>
__device__ __forceinline__ void load_params(const float* p, float (&v)[V]) {
  if constexpr (V % 4 == 0) {
#pragma unroll
    for (int q = 0; q < V; q += 4) {
      const float4 f = *reinterpret_cast<const float4*>(p + q);
      v[q] = f.x, v[q + 1] = f.y, v[q + 2] = f.z, v[q + 3] = f.w;
    }
  } else {
#pragma unroll
    for (int i = 0; i < V; ++i) v[i] = p[i];
  }
}

// The first column of a lane's chunk c (its V columns follow): lanes take
// consecutive packs, so a warp's access to a chunk is contiguous.
template <int V>
__device__ __forceinline__ int chunk_column(int c, int lane) {
  return (c * 32 + lane) * V;
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Seed and offset as at::cuda::philox::unpack reads them: through the
// generator's device pointers when the state was taken under graph capture.
__device__ __forceinline__ uint64_t key_from(const at::PhiloxCudaState& rng) {
  const uint64_t seed = rng.captured_ ? static_cast<uint64_t>(*rng.seed_.ptr) : rng.seed_.val;
  const uint64_t offset =
      rng.captured_ ? static_cast<uint64_t>(*rng.offset_.ptr) + rng.offset_intragraph_ : rng.offset_.val;
  return seed ^ (offset * 0x9E3779B97F4A7C15ull);
}

// One row per warp; C chunks of V columns per lane.
template <typename T, int V, int C>
__global__ void __launch_bounds__(kWarps * 32)
forward_kernel(const T* __restrict__ z, const float* __restrict__ bias, const float* __restrict__ gamma,
               const float* __restrict__ beta, T* __restrict__ out, T* __restrict__ slope,
               float* __restrict__ mean_out, float* __restrict__ rstd_out, int64_t rows, int width, float eps,
               bool drop, uint32_t threshold, float keep, at::PhiloxCudaState rng) {
  const int lane = threadIdx.x & 31;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / 32;
  if (row >= rows) return;
  MaskStream mask;
  if (drop) mask = MaskStream(key_from(rng), threshold, keep);
  const T* zr = z + row * width;
  float v[C][V];
  float sum = 0.f;
#pragma unroll
  for (int c = 0; c < C; ++c) {
    const int j = chunk_column<V>(c, lane);
    if (j < width) {
      float b[V];
      load_pack<V>(zr + j, v[c]);
      load_params<V>(bias + j, b);
#pragma unroll
      for (int i = 0; i < V; ++i) sum += (v[c][i] += b[i]);
    }
  }
  const float mean = warp_sum(sum) / width;
  float sq = 0.f;
#pragma unroll
  for (int c = 0; c < C; ++c) {
    if (chunk_column<V>(c, lane) < width) {
#pragma unroll
      for (int i = 0; i < V; ++i) sq += (v[c][i] - mean) * (v[c][i] - mean);
    }
  }
  const float rstd = rsqrtf(warp_sum(sq) / width + eps);
  const uint32_t first = static_cast<uint32_t>(row * width);
#pragma unroll
  for (int c = 0; c < C; ++c) {
    const int j = chunk_column<V>(c, lane);
    if (j < width) {
      float g[V], b[V], o[V], s[V];
      load_params<V>(gamma + j, g);
      load_params<V>(beta + j, b);
#pragma unroll
      for (int i = 0; i < V; ++i) {
        const float y = (v[c][i] - mean) * rstd * g[i] + b[i];
        float cdf, y_pdf;
        gelu_parts(y, cdf, y_pdf);
        const float k = drop ? mask.scale(first + static_cast<uint32_t>(j + i)) : 1.f;
        o[i] = y * cdf * k;
        s[i] = (cdf + y_pdf) * k;
      }
      store_pack<V>(out + row * width + j, o);
      if (slope) store_pack<V>(slope + row * width + j, s);
    }
  }
  if (lane == 0) {
    mean_out[row] = mean;
    rstd_out[row] = rstd;
  }
}

// dz of kWarps * kRowsPerWarp rows per block, and the block's sums of dgamma,
// dbeta and dbias in partial[block][3][width] (warps added in order).
template <typename T, int V, int C>
__global__ void __launch_bounds__(kWarps * 32)
backward_kernel(const T* __restrict__ z, const T* __restrict__ dout, const T* __restrict__ slope,
                const float* __restrict__ bias, const float* __restrict__ gamma, const float* __restrict__ mean,
                const float* __restrict__ rstd, T* __restrict__ dz, float* __restrict__ partial, int64_t rows,
                int width) {
  extern __shared__ float shared[];  // [kWarps][width]
  const int lane = threadIdx.x & 31, warp = threadIdx.x / 32;
  float dg[C][V], db[C][V], dbias[C][V];
#pragma unroll
  for (int c = 0; c < C; ++c)
#pragma unroll
    for (int i = 0; i < V; ++i) dg[c][i] = db[c][i] = dbias[c][i] = 0.f;
  const int64_t row0 = (static_cast<int64_t>(blockIdx.x) * kWarps + warp) * kRowsPerWarp;
  for (int64_t r = row0; r < row0 + kRowsPerWarp && r < rows; ++r) {
    const float m = mean[r], s = rstd[r];
    const int64_t base = r * width;
    float xhat[C][V], dyg[C][V];
    float sum_d = 0.f, sum_dx = 0.f;
#pragma unroll
    for (int c = 0; c < C; ++c) {
      const int j = chunk_column<V>(c, lane);
#pragma unroll
      for (int i = 0; i < V; ++i) xhat[c][i] = dyg[c][i] = 0.f;
      if (j < width) {
        float zv[V], go[V], sl[V], b[V], g[V];
        load_pack<V>(z + base + j, zv);
        load_pack<V>(dout + base + j, go);
        load_pack<V>(slope + base + j, sl);
        load_params<V>(bias + j, b);
        load_params<V>(gamma + j, g);
#pragma unroll
        for (int i = 0; i < V; ++i) {
          xhat[c][i] = (zv[i] + b[i] - m) * s;
          const float dy = go[i] * sl[i];
          dg[c][i] += dy * xhat[c][i];
          db[c][i] += dy;
          dyg[c][i] = dy * g[i];
          sum_d += dyg[c][i];
          sum_dx += dyg[c][i] * xhat[c][i];
        }
      }
    }
    const float mean_d = warp_sum(sum_d) / width, mean_dx = warp_sum(sum_dx) / width;
#pragma unroll
    for (int c = 0; c < C; ++c) {
      const int j = chunk_column<V>(c, lane);
      if (j < width) {
        float d[V];
#pragma unroll
        for (int i = 0; i < V; ++i) {
          d[i] = s * (dyg[c][i] - mean_d - xhat[c][i] * mean_dx);
          dbias[c][i] += d[i];
        }
        store_pack<V>(dz + base + j, d);
      }
    }
  }
  float* block_partial = partial + static_cast<int64_t>(blockIdx.x) * 3 * width;
  for (int which = 0; which < 3; ++which) {
#pragma unroll
    for (int c = 0; c < C; ++c) {
      const int j = chunk_column<V>(c, lane);
      if (j < width) {
#pragma unroll
        for (int i = 0; i < V; ++i)
          shared[warp * width + j + i] = which == 0 ? dg[c][i] : which == 1 ? db[c][i] : dbias[c][i];
      }
    }
    __syncthreads();
    for (int j = threadIdx.x; j < width; j += blockDim.x) {
      float acc = 0.f;
      for (int w = 0; w < kWarps; ++w) acc += shared[w * width + j];
      block_partial[which * width + j] = acc;
    }
    __syncthreads();
  }
}

// dgamma, dbeta, dbias[j] = sums over blocks of partial[block][0, 1 or 2][j]:
// 32 columns per thread block, each of its warps summing every
// kReduceWarps-th block, then the warps' sums added in warp order.
__global__ void __launch_bounds__(kReduceWarps * 32)
reduce_partials_kernel(const float* __restrict__ partial, int blocks, int width, float* __restrict__ dgamma,
                       float* __restrict__ dbeta, float* __restrict__ dbias) {
  __shared__ float sums[kReduceWarps][33];
  const int lane = threadIdx.x & 31, warp = threadIdx.x / 32;
  const int col = blockIdx.x * 32 + lane;  // in [0, 3 * width)
  const int cols = 3 * width;
  float acc = 0.f;
  if (col < cols)
    for (int b = warp; b < blocks; b += kReduceWarps) acc += partial[static_cast<int64_t>(b) * cols + col];
  sums[warp][lane] = acc;
  __syncthreads();
  if (warp == 0 && col < cols) {
    float total = 0.f;
    for (int w = 0; w < kReduceWarps; ++w) total += sums[w][lane];
    const int which = col / width, j = col - which * width;
    (which == 0 ? dgamma : which == 1 ? dbeta : dbias)[j] = total;
  }
}

// Calls launch(std::integral_constant<int, C>) with the fewest chunks of V
// columns per lane (a power of two) that cover `width` (at most 32 * 32).
template <int V, int C = 1, typename Launch>
void with_chunks(int width, const Launch& launch) {
  if constexpr (C * V >= 32) {
    launch(std::integral_constant<int, C>{});
  } else {
    if (width <= 32 * V * C) launch(std::integral_constant<int, C>{});
    else with_chunks<V, 2 * C>(width, launch);
  }
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// 16-byte packs when every row and parameter pointer allows them, else one value per access.
template <typename T>
bool packs_fit(int width, std::initializer_list<const void*> pointers) {
  constexpr int kPack = 16 / sizeof(T);
  if (width % kPack != 0) return false;
  for (const void* p : pointers)
    if (!aligned16(p)) return false;
  return true;
}

template <typename T>
cudaError_t forward_typed(const NgdForward& a, cudaStream_t stream) {
  constexpr int kPack = 16 / sizeof(T);
  const auto blocks = static_cast<unsigned>((a.rows + kWarps - 1) / kWarps);
  const T* z = static_cast<const T*>(a.z);
  T* out = static_cast<T*>(a.out);
  T* slope = static_cast<T*>(a.slope);
  auto launch = [&](auto v, auto c) {
    forward_kernel<T, decltype(v)::value, decltype(c)::value><<<blocks, kWarps * 32, 0, stream>>>(
        z, a.bias, a.gamma, a.beta, out, slope, a.mean, a.rstd, a.rows, a.width, a.eps, a.drop, a.threshold,
        a.keep, a.rng);
  };
  if (packs_fit<T>(a.width, {z, out, slope, a.bias, a.gamma, a.beta}))
    with_chunks<kPack>(a.width, [&](auto c) { launch(std::integral_constant<int, kPack>{}, c); });
  else
    with_chunks<1>(a.width, [&](auto c) { launch(std::integral_constant<int, 1>{}, c); });
  return cudaGetLastError();
}

template <typename T>
cudaError_t backward_typed(const NgdBackward& a, cudaStream_t stream) {
  constexpr int kPack = 16 / sizeof(T);
  const auto blocks = static_cast<unsigned>(backward_blocks(a.rows));
  const size_t shared = sizeof(float) * kWarps * a.width;
  const T* z = static_cast<const T*>(a.z);
  const T* dout = static_cast<const T*>(a.dout);
  const T* slope = static_cast<const T*>(a.slope);
  T* dz = static_cast<T*>(a.dz);
  auto launch = [&](auto v, auto c) {
    backward_kernel<T, decltype(v)::value, decltype(c)::value><<<blocks, kWarps * 32, shared, stream>>>(
        z, dout, slope, a.bias, a.gamma, a.mean, a.rstd, dz, a.partial, a.rows, a.width);
  };
  if (packs_fit<T>(a.width, {z, dout, slope, dz, a.bias, a.gamma}))
    with_chunks<kPack>(a.width, [&](auto c) { launch(std::integral_constant<int, kPack>{}, c); });
  else
    with_chunks<1>(a.width, [&](auto c) { launch(std::integral_constant<int, 1>{}, c); });
  cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) return err;
  reduce_partials_kernel<<<(3 * a.width + 31) / 32, kReduceWarps * 32, 0, stream>>>(
      a.partial, static_cast<int>(blocks), a.width, a.dgamma, a.dbeta, a.dbias);
  return cudaGetLastError();
}
}  // namespace

int64_t backward_blocks(int64_t rows) {
  const int64_t per_block = static_cast<int64_t>(kWarps) * kRowsPerWarp;
  return (rows + per_block - 1) / per_block;
}

cudaError_t launch_ngd_forward(const NgdForward& args, cudaStream_t stream) {
  if (args.rows == 0) return cudaSuccess;
  switch (args.type) {
    case RowType::kBFloat16: return forward_typed<__nv_bfloat16>(args, stream);
    case RowType::kHalf: return forward_typed<__half>(args, stream);
    default: return forward_typed<float>(args, stream);
  }
}

cudaError_t launch_ngd_backward(const NgdBackward& args, cudaStream_t stream) {
  if (args.rows == 0) return cudaSuccess;
  switch (args.type) {
    case RowType::kBFloat16: return backward_typed<__nv_bfloat16>(args, stream);
    case RowType::kHalf: return backward_typed<__half>(args, stream);
    default: return backward_typed<float>(args, stream);
  }
}

}  // namespace nairrcore::train::cuda
