#include "common/intra_op.h"

#include <ATen/Parallel.h>

#include <mutex>
#include <set>

namespace nairrcore {

int intra_op_threads_used(int64_t n) {
  std::mutex mutex;
  std::set<int> seen;
  at::parallel_for(0, n, 1, [&](int64_t, int64_t) {
    std::lock_guard<std::mutex> lock(mutex);
    seen.insert(at::get_thread_num());
  });
  return static_cast<int>(seen.size());
}

}  // namespace nairrcore
