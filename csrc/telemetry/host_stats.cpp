#include "telemetry/host_stats.h"

#include <sys/resource.h>
#include <unistd.h>

#include <fstream>

namespace nairrcore::telemetry {

HostStats read_host_stats() {
  HostStats s;
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) == 0) {
    s.peak_rss_bytes = static_cast<int64_t>(usage.ru_maxrss) * 1024;  // kilobytes on Linux
    s.cpu_user_sec = usage.ru_utime.tv_sec + usage.ru_utime.tv_usec * 1e-6;
    s.cpu_system_sec = usage.ru_stime.tv_sec + usage.ru_stime.tv_usec * 1e-6;
  }
  std::ifstream statm("/proc/self/statm");
  int64_t size_pages = 0, resident_pages = 0;
  if (statm >> size_pages >> resident_pages) {
    s.rss_bytes = resident_pages * static_cast<int64_t>(sysconf(_SC_PAGESIZE));
  }
  return s;
}

}  // namespace nairrcore::telemetry
