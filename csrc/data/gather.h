#pragma once
// Row gather: out[i, :] = src[index[i], :] for 2-D contiguous tensors.
// The CPU version writes into any (e.g. pinned) buffer; the CUDA version
// gathers two tensors in one launch for the GPU-resident loader.
#include <ATen/ATen.h>

namespace nairrcore::data {

void gather_rows_cpu(const at::Tensor& src, const int64_t* index, int64_t n, at::Tensor& out);

// True when the CUDA kernels were compiled in.
bool cuda_kernels_available();

// Both sources and outputs on the same CUDA device; index is int64 on it too.
void gather_rows_pair_cuda(const at::Tensor& a, const at::Tensor& b, const at::Tensor& index,
                           at::Tensor& out_a, at::Tensor& out_b);

}  // namespace nairrcore::data
