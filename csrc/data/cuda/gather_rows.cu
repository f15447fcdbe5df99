// Fused row gather for two float tensors on the GPU (features and targets),
// so one GPU-resident batch costs one launch instead of two index_selects.
#include <cuda_runtime.h>

#include <cstdint>

namespace nairrcore::data::cuda {

__global__ void gather_rows_pair_kernel(const float* __restrict__ a, int64_t cols_a,
                                        const float* __restrict__ b, int64_t cols_b,
                                        const int64_t* __restrict__ index, int64_t n,
                                        float* __restrict__ out_a, float* __restrict__ out_b) {
  const int64_t cols = cols_a + cols_b;
  const int64_t total = n * cols;
  for (int64_t k = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; k < total;
       k += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t i = k / cols;
    const int64_t c = k - i * cols;
    const int64_t r = index[i];
    if (c < cols_a) {
      out_a[i * cols_a + c] = a[r * cols_a + c];
    } else {
      out_b[i * cols_b + (c - cols_a)] = b[r * cols_b + (c - cols_a)];
    }
  }
}

cudaError_t launch_gather_rows_pair(const float* a, int64_t cols_a, const float* b, int64_t cols_b,
                                    const int64_t* index, int64_t n, float* out_a, float* out_b,
                                    cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  const int threads = 256;
  const int64_t work = n * (cols_a + cols_b);
  const int blocks = static_cast<int>(std::min<int64_t>((work + threads - 1) / threads, 65535));
  gather_rows_pair_kernel<<<blocks, threads, 0, stream>>>(a, cols_a, b, cols_b, index, n, out_a,
                                                          out_b);
  return cudaGetLastError();
}

}  // namespace nairrcore::data::cuda
