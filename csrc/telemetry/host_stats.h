#pragma once
// Host-side process statistics read from the kernel (Linux /proc, getrusage).
#include <cstdint>

namespace nairrcore::telemetry {

struct HostStats {
  int64_t rss_bytes = 0;        // resident set size now
  int64_t peak_rss_bytes = 0;   // high-water mark of the process
  double cpu_user_sec = 0;      // CPU time of all threads so far
  double cpu_system_sec = 0;
};

HostStats read_host_stats();

// The process ``pid`` and every live descendant, summed: resident set sizes
// (shared pages counted once per process) and CPU time, including the time of
// children they have already waited for. ``processes`` is 0 once ``pid`` is gone.
struct TreeStats {
  int64_t rss_bytes = 0;
  double cpu_sec = 0;
  int processes = 0;
};

TreeStats read_tree_stats(int pid);

}  // namespace nairrcore::telemetry
