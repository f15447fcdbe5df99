// LayerNorm -> GELU (erf) -> dropout of the forecasting MLP's blocks on the
// GPU: one warp per row keeps the row in registers, so forward reads the
// block input once and writes the output once (unfused under autocast:
// LayerNorm in fp32, GELU and dropout each a further read and write of an
// fp32 copy). Backward recomputes the normalised values, the GELU input and
// the dropout mask from the saved input, the per-row statistics and the
// dropout key, and sums the parameter gradients per block in a fixed order,
// then over blocks in a second launch: the same inputs give the same bits.
// The dropout key comes from torch's CUDA generator as a graph-safe
// PhiloxCudaState, read on the device, so a replayed CUDA graph draws a new
// mask every step; forward stores it for backward.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include <ATen/cuda/PhiloxCudaState.h>

#include "train/cuda/norm_gelu_dropout_launch.h"

namespace nairrcore::train::cuda {

namespace {
constexpr int kWarps = 4;        // warps (rows in flight) per block
constexpr int kRowsPerWarp = 4;  // backward: rows each warp walks
constexpr float kInvSqrt2 = 0.70710678118654752f;
constexpr float kInvSqrt2Pi = 0.39894228040143268f;

__device__ __forceinline__ float load(const float* p) { return *p; }
__device__ __forceinline__ float load(const __nv_bfloat16* p) { return __bfloat162float(*p); }
__device__ __forceinline__ float load(const __half* p) { return __half2float(*p); }
__device__ __forceinline__ void store(float* p, float v) { *p = v; }
__device__ __forceinline__ void store(__nv_bfloat16* p, float v) { *p = __float2bfloat16_rn(v); }
__device__ __forceinline__ void store(__half* p, float v) { *p = __float2half_rn(v); }

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// The dropout stream of train/dropout_hash.h (murmur3's finaliser on the
// element index), with the key split the same way.
struct Mask {
  uint32_t salt, offset, threshold;
  float keep;
  __device__ __forceinline__ float scale(uint32_t index) const {
    uint32_t h = (index ^ offset) * 0x9E3779B9u + salt;
    h ^= h >> 16;
    h *= 0x85EBCA6Bu;
    h ^= h >> 13;
    h *= 0xC2B2AE35u;
    h ^= h >> 16;
    return h < threshold ? 0.f : keep;
  }
};

__device__ __forceinline__ Mask make_mask(uint64_t key, uint32_t threshold, float keep) {
  return {static_cast<uint32_t>(key), static_cast<uint32_t>(key >> 32), threshold, keep};
}

// Seed and offset as at::cuda::philox::unpack reads them: through the
// generator's device pointers when the state was taken under graph capture.
__device__ __forceinline__ uint64_t key_from(const at::PhiloxCudaState& rng) {
  const uint64_t seed = rng.captured_ ? static_cast<uint64_t>(*rng.seed_.ptr) : rng.seed_.val;
  const uint64_t offset =
      rng.captured_ ? static_cast<uint64_t>(*rng.offset_.ptr) + rng.offset_intragraph_ : rng.offset_.val;
  return seed ^ (offset * 0x9E3779B97F4A7C15ull);
}

template <typename T, int kCols>
__global__ void __launch_bounds__(kWarps * 32)
forward_kernel(const T* __restrict__ z, const float* __restrict__ gamma, const float* __restrict__ beta,
               T* __restrict__ out, float* __restrict__ mean_out, float* __restrict__ rstd_out, int64_t rows,
               int width, float eps, bool drop, uint32_t threshold, float keep, at::PhiloxCudaState rng,
               int64_t* __restrict__ key_out) {
  const int lane = threadIdx.x & 31;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / 32;
  Mask mask{};
  if (drop) {
    const uint64_t key = key_from(rng);
    if (blockIdx.x == 0 && threadIdx.x == 0) *key_out = static_cast<int64_t>(key);
    mask = make_mask(key, threshold, keep);
  }
  if (row >= rows) return;
  const T* zr = z + row * width;
  float v[kCols];
  float sum = 0.f;
#pragma unroll
  for (int k = 0; k < kCols; ++k) {
    const int j = lane + 32 * k;
    v[k] = j < width ? load(zr + j) : 0.f;
    sum += v[k];
  }
  const float mean = warp_sum(sum) / width;
  float sq = 0.f;
#pragma unroll
  for (int k = 0; k < kCols; ++k) {
    const int j = lane + 32 * k;
    const float c = j < width ? v[k] - mean : 0.f;
    sq += c * c;
  }
  const float rstd = rsqrtf(warp_sum(sq) / width + eps);
  T* o = out + row * width;
  const uint32_t first = static_cast<uint32_t>(row * width);
#pragma unroll
  for (int k = 0; k < kCols; ++k) {
    const int j = lane + 32 * k;
    if (j < width) {
      const float y = (v[k] - mean) * rstd * gamma[j] + beta[j];
      float g = 0.5f * y * (1.f + erff(y * kInvSqrt2));
      if (drop) g *= mask.scale(first + j);
      store(o + j, g);
    }
  }
  if (lane == 0) {
    mean_out[row] = mean;
    rstd_out[row] = rstd;
  }
}

// dz of kWarps * kRowsPerWarp rows per block, and the block's sums of
// dgamma and dbeta in partial[block][2][width] (warps added in order).
template <typename T, int kCols>
__global__ void __launch_bounds__(kWarps * 32)
backward_kernel(const T* __restrict__ z, const T* __restrict__ dout, const float* __restrict__ gamma,
                const float* __restrict__ beta, const float* __restrict__ mean, const float* __restrict__ rstd,
                T* __restrict__ dz, float* __restrict__ partial, int64_t rows, int width, bool drop,
                uint32_t threshold, float keep, const int64_t* __restrict__ key) {
  extern __shared__ float shared[];  // [kWarps][width]
  const int lane = threadIdx.x & 31, warp = threadIdx.x / 32;
  const Mask mask = drop ? make_mask(static_cast<uint64_t>(*key), threshold, keep) : Mask{};
  float dg[kCols], db[kCols];
#pragma unroll
  for (int k = 0; k < kCols; ++k) dg[k] = db[k] = 0.f;
  const int64_t row0 = (static_cast<int64_t>(blockIdx.x) * kWarps + warp) * kRowsPerWarp;
  for (int64_t r = row0; r < row0 + kRowsPerWarp && r < rows; ++r) {
    const float m = mean[r], s = rstd[r];
    const uint32_t first = static_cast<uint32_t>(r * width);
    float xhat[kCols], dyg[kCols];
    float sum_d = 0.f, sum_dx = 0.f;
#pragma unroll
    for (int k = 0; k < kCols; ++k) {
      const int j = lane + 32 * k;
      xhat[k] = dyg[k] = 0.f;
      if (j < width) {
        xhat[k] = (load(z + r * width + j) - m) * s;
        const float y = xhat[k] * gamma[j] + beta[j];
        float go = load(dout + r * width + j);
        if (drop) go *= mask.scale(first + j);
        const float cdf = 0.5f * (1.f + erff(y * kInvSqrt2));
        const float pdf = kInvSqrt2Pi * __expf(-0.5f * y * y);
        const float dy = go * (cdf + y * pdf);
        dg[k] += dy * xhat[k];
        db[k] += dy;
        dyg[k] = dy * gamma[j];
        sum_d += dyg[k];
        sum_dx += dyg[k] * xhat[k];
      }
    }
    const float mean_d = warp_sum(sum_d) / width, mean_dx = warp_sum(sum_dx) / width;
#pragma unroll
    for (int k = 0; k < kCols; ++k) {
      const int j = lane + 32 * k;
      if (j < width) store(dz + r * width + j, s * (dyg[k] - mean_d - xhat[k] * mean_dx));
    }
  }
  float* block_partial = partial + static_cast<int64_t>(blockIdx.x) * 2 * width;
  for (int which = 0; which < 2; ++which) {
#pragma unroll
    for (int k = 0; k < kCols; ++k) {
      const int j = lane + 32 * k;
      if (j < width) shared[warp * width + j] = which == 0 ? dg[k] : db[k];
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

// dgamma[j], dbeta[j] = sums over blocks of partial[block][0 or 1][j], in block order.
__global__ void reduce_partials_kernel(const float* __restrict__ partial, int blocks, int width,
                                       float* __restrict__ dgamma, float* __restrict__ dbeta) {
  const int t = blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= 2 * width) return;
  const int which = t / width, j = t - which * width;
  float acc = 0.f;
  for (int b = 0; b < blocks; ++b) acc += partial[(static_cast<int64_t>(b) * 2 + which) * width + j];
  (which == 0 ? dgamma : dbeta)[j] = acc;
}

template <typename T>
cudaError_t forward_typed(const NgdForward& a, cudaStream_t stream) {
  const auto blocks = static_cast<unsigned>((a.rows + kWarps - 1) / kWarps);
  const T* z = static_cast<const T*>(a.z);
  T* out = static_cast<T*>(a.out);
#define NAIRR_NGD_FORWARD(C)                                                                          \
  forward_kernel<T, C><<<blocks, kWarps * 32, 0, stream>>>(z, a.gamma, a.beta, out, a.mean, a.rstd,   \
                                                           a.rows, a.width, a.eps, a.drop,            \
                                                           a.threshold, a.keep, a.rng, a.key)
  const int cols = (a.width + 31) / 32;
  if (cols <= 1) NAIRR_NGD_FORWARD(1);
  else if (cols <= 2) NAIRR_NGD_FORWARD(2);
  else if (cols <= 4) NAIRR_NGD_FORWARD(4);
  else if (cols <= 8) NAIRR_NGD_FORWARD(8);
  else if (cols <= 16) NAIRR_NGD_FORWARD(16);
  else NAIRR_NGD_FORWARD(32);
#undef NAIRR_NGD_FORWARD
  return cudaGetLastError();
}

template <typename T>
cudaError_t backward_typed(const NgdBackward& a, cudaStream_t stream) {
  const auto blocks = static_cast<unsigned>(backward_blocks(a.rows));
  const size_t shared = sizeof(float) * kWarps * a.width;
  const T* z = static_cast<const T*>(a.z);
  const T* dout = static_cast<const T*>(a.dout);
  T* dz = static_cast<T*>(a.dz);
#define NAIRR_NGD_BACKWARD(C)                                                                         \
  backward_kernel<T, C><<<blocks, kWarps * 32, shared, stream>>>(z, dout, a.gamma, a.beta, a.mean,    \
                                                                 a.rstd, dz, a.partial, a.rows,       \
                                                                 a.width, a.drop, a.threshold,        \
                                                                 a.keep, a.key)
  const int cols = (a.width + 31) / 32;
  if (cols <= 1) NAIRR_NGD_BACKWARD(1);
  else if (cols <= 2) NAIRR_NGD_BACKWARD(2);
  else if (cols <= 4) NAIRR_NGD_BACKWARD(4);
  else if (cols <= 8) NAIRR_NGD_BACKWARD(8);
  else if (cols <= 16) NAIRR_NGD_BACKWARD(16);
  else NAIRR_NGD_BACKWARD(32);
#undef NAIRR_NGD_BACKWARD
  cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) return err;
  const int threads = 256;
  reduce_partials_kernel<<<(2 * a.width + threads - 1) / threads, threads, 0, stream>>>(
      a.partial, static_cast<int>(blocks), a.width, a.dgamma, a.dbeta);
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
