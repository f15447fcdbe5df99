#pragma once
// torch's at::parallel_for is an inline template: with torch's OpenMP
// backend it splits work only in files compiled with OpenMP, and silently
// runs on one thread elsewhere. This reports how many threads it really used
// for n items here, compiled like the core's CPU kernels.
#include <cstdint>

namespace nairrcore {

int intra_op_threads_used(int64_t n);

}  // namespace nairrcore
