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

}  // namespace nairrcore::telemetry
