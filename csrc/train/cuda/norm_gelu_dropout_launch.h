#pragma once
// Launchers of the GPU norm-GELU-dropout kernels (norm_gelu_dropout.cu), on
// raw pointers so the .cu needs no ATen tensor headers.
#include <cuda_runtime.h>

#include <cstdint>

#include <ATen/cuda/PhiloxCudaState.h>

namespace nairrcore::train::cuda {

enum class RowType { kFloat, kBFloat16, kHalf };

struct NgdForward {
  RowType type;
  const void* z;  // [rows, width] of `type`, without the preceding linear's bias
  const float *bias, *gamma, *beta;  // [width] each
  void* out;      // like z
  void* slope;    // like z: the GELU's slope times the dropout scale, for backward; null: none kept
  float *mean, *rstd;  // [rows]: of z + bias
  int64_t rows;
  int width;
  float eps;
  bool drop;
  uint32_t threshold;  // drop where the 32-bit hash is below this (p * 2^32)
  float keep;          // 1 / (1 - p)
  at::PhiloxCudaState rng;
};

struct NgdBackward {
  RowType type;
  const void *z, *dout, *slope;  // like NgdForward's z
  const float *bias, *gamma, *mean, *rstd;
  void* dz;
  float* partial;  // [backward_blocks(rows), 3, width] scratch
  float *dgamma, *dbeta, *dbias;  // [width] each, written whole
  int64_t rows;
  int width;
};

// Blocks of the backward launch (the partial buffer has one [3, width] slab each).
int64_t backward_blocks(int64_t rows);
cudaError_t launch_ngd_forward(const NgdForward& args, cudaStream_t stream);
cudaError_t launch_ngd_backward(const NgdBackward& args, cudaStream_t stream);

}  // namespace nairrcore::train::cuda
