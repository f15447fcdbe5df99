#pragma once
// NAIRR_HOST_DEVICE marks a small function that the GPU kernels call too
// (train/gelu_parts.h, train/dropout_hash.h): compiled for both sides when
// nvcc includes the header, always inlined on the host.
// NAIRR_HOST_INLINE: a host-only helper of a hot loop, always inlined so that
// the loop around it vectorises.
#define NAIRR_HOST_INLINE __attribute__((always_inline)) inline
#if defined(__CUDACC__)
#define NAIRR_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define NAIRR_HOST_DEVICE NAIRR_HOST_INLINE
#endif
