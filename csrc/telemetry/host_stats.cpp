#include "telemetry/host_stats.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>

namespace nairrcore::telemetry {

namespace {
// Resident pages from /proc/self/statm ("size resident shared ..."), read
// with plain system calls: this runs on the sampler thread once a second and
// must not depend on the process's iostream locale state.
int64_t resident_pages() {
  const int fd = ::open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[128];
  const ssize_t n = ::read(fd, buf, sizeof(buf) - 1);
  ::close(fd);
  if (n <= 0) return -1;
  buf[n] = '\0';
  char* end = nullptr;
  std::strtoll(buf, &end, 10);  // size
  if (end == buf) return -1;
  char* rest = end;
  const long long resident = std::strtoll(rest, &end, 10);
  return end == rest ? -1 : resident;
}
}  // namespace

HostStats read_host_stats() {
  HostStats s;
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) == 0) {
    s.peak_rss_bytes = static_cast<int64_t>(usage.ru_maxrss) * 1024;  // kilobytes on Linux
    s.cpu_user_sec = usage.ru_utime.tv_sec + usage.ru_utime.tv_usec * 1e-6;
    s.cpu_system_sec = usage.ru_stime.tv_sec + usage.ru_stime.tv_usec * 1e-6;
  }
  const int64_t pages = resident_pages();
  if (pages >= 0) s.rss_bytes = pages * static_cast<int64_t>(sysconf(_SC_PAGESIZE));
  return s;
}

}  // namespace nairrcore::telemetry
