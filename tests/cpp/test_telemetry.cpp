#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <thread>
#include <vector>

#include "telemetry/host_stats.h"
#include "telemetry/sampler.h"
#include "test_support.h"

using namespace nairrcore::telemetry;

TEST_CASE("sampler records host rows with phases; GPU readings absent without a driver", "[telemetry]") {
  Sampler s(0.05);
  s.start();
  s.set_phase("train_epoch_0");
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  s.set_phase("validation");
  std::this_thread::sleep_for(std::chrono::milliseconds(120));
  auto rows = s.stop();
  REQUIRE(rows.size() >= 4);
  CHECK(rows.front().phase == "train_epoch_0");
  CHECK(rows.back().phase == "validation");
  for (size_t i = 1; i < rows.size(); ++i) CHECK(rows[i].elapsed_sec >= rows[i - 1].elapsed_sec);
  CHECK(rows.back().rss_bytes > 0);
  if (!s.gpu_available()) {
    CHECK(!s.gpu_absent_reason().empty());
    CHECK(rows.back().gpus.empty());
  }
  CHECK(s.stop().size() == rows.size());  // stopping twice adds nothing
}

namespace {
// A child that spins until killed, sharing ``held`` (resident) with its parent;
// it allocates nothing, as a child forked from a threaded process should not.
pid_t spinning_child(const std::vector<char>& held) {
  const pid_t pid = fork();
  if (pid == 0) {
    volatile unsigned long x = held[held.size() / 2];
    for (;;) x = x * 3 + 1;
  }
  return pid;
}
}  // namespace

TEST_CASE("a watched process tree: its descendants' CPU time and RSS are summed, and a gone pid reads empty",
          "[telemetry]") {
  const pid_t parent = getpid();
  const std::vector<char> held(64 << 20, 1);
  const TreeStats before = read_tree_stats(parent);
  REQUIRE(before.processes >= 1);
  const pid_t child = spinning_child(held);
  REQUIRE(child > 0);
  // On a loaded machine the child may get little of a core: wait for its CPU time, do not assume it.
  for (int i = 0; i < 200 && read_tree_stats(child).cpu_sec < 0.05; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const TreeStats during = read_tree_stats(parent);
  const TreeStats alone = read_tree_stats(child);
  CHECK(during.processes >= before.processes + 1);
  CHECK(alone.processes == 1);
  CHECK(alone.rss_bytes >= (64 << 20));
  CHECK(during.rss_bytes >= before.rss_bytes + (64 << 20));  // shared pages count in each process
  CHECK(alone.cpu_sec >= 0.05);
  Sampler s(0.1, child);
  s.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  auto rows = s.stop();
  REQUIRE(rows.size() >= 3);
  double busiest = 0;
  for (size_t i = 0; i + 1 < rows.size(); ++i) busiest = std::max(busiest, rows[i].cpu_percent);
  CHECK(busiest > 5.0);  // it spun the whole time, sharing the cores with whatever else runs
  CHECK(rows.front().rss_bytes >= (64 << 20));
  CHECK(rows.back().rss_bytes == 0);  // the pid is gone
  CHECK(read_tree_stats(child).processes == 0);
}
