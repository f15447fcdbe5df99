#include "telemetry/host_stats.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unordered_map>
#include <vector>

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
// One /proc/<pid>/stat line, read with plain system calls for the reason above.
struct ProcStat {
  int ppid = 0;
  double cpu_ticks = 0;  // utime + stime + cutime + cstime
  int64_t rss_pages = 0;
};

bool read_proc_stat(int pid, ProcStat& out) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/stat", pid);
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[1024];
  const ssize_t n = ::read(fd, buf, sizeof(buf) - 1);
  ::close(fd);
  if (n <= 0) return false;
  buf[n] = '\0';
  // The command name (field 2) may hold spaces and parentheses: fields resume after the last ')'.
  const char* p = std::strrchr(buf, ')');
  if (p == nullptr) return false;
  p += 2;  // ") " then field 3, the state
  char* end = nullptr;
  long long field[22] = {0};  // fields 3..24
  for (int i = 0; i < 22; ++i) {
    while (*p == ' ') ++p;
    if (i == 0) {  // the state is one character
      ++p;
      continue;
    }
    field[i] = std::strtoll(p, &end, 10);
    if (end == p) return false;
    p = end;
  }
  out.ppid = static_cast<int>(field[1]);              // field 4
  out.cpu_ticks = static_cast<double>(field[11] + field[12] + field[13] + field[14]);  // fields 14-17
  out.rss_pages = field[21];                          // field 24
  return true;
}
}  // namespace

TreeStats read_tree_stats(int pid) {
  TreeStats t;
  std::unordered_map<int, ProcStat> procs;
  if (DIR* dir = ::opendir("/proc")) {
    while (const dirent* e = ::readdir(dir)) {
      char* end = nullptr;
      const long id = std::strtol(e->d_name, &end, 10);
      ProcStat st;
      if (end != e->d_name && *end == '\0' && read_proc_stat(static_cast<int>(id), st)) {
        procs.emplace(static_cast<int>(id), st);
      }
    }
    ::closedir(dir);
  }
  if (procs.find(pid) == procs.end()) return t;
  std::unordered_map<int, std::vector<int>> children;
  for (const auto& [id, st] : procs) children[st.ppid].push_back(id);
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  const int64_t page = sysconf(_SC_PAGESIZE);
  std::vector<int> todo{pid};
  while (!todo.empty()) {
    const int id = todo.back();
    todo.pop_back();
    const ProcStat& st = procs[id];
    t.cpu_sec += st.cpu_ticks / tick;
    t.rss_bytes += st.rss_pages * page;
    ++t.processes;
    for (int child : children[id]) todo.push_back(child);
  }
  return t;
}

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
