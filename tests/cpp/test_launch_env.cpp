#include <map>

#include "common/errors.h"
#include "distributed/launch_env.h"
#include "test_support.h"

using namespace nairrcore;
using namespace nairrcore::dist;

namespace {
EnvLookup from(const std::map<std::string, std::string>& m) {
  return [m](const char* k) -> const char* {
    auto it = m.find(k);
    return it == m.end() ? nullptr : it->second.c_str();
  };
}
}  // namespace

TEST_CASE("torchrun and Slurm environments give rank and rendezvous", "[dist]") {
  auto t = read_launch_env(from({{"RANK", "1"}, {"WORLD_SIZE", "4"}, {"LOCAL_RANK", "1"},
                                 {"MASTER_ADDR", "node7"}, {"MASTER_PORT", "1234"}}));
  CHECK(t.launcher == "torchrun");
  CHECK(t.rank == 1);
  CHECK(t.world_size == 4);
  CHECK(t.master_addr == "node7");
  CHECK(t.master_port == 1234);
  auto s = read_launch_env(from({{"SLURM_PROCID", "3"}, {"SLURM_NTASKS", "8"}, {"SLURM_LOCALID", "3"},
                                 {"SLURM_JOB_NODELIST", "gpu[012-015,020]"}}));
  CHECK(s.launcher == "slurm");
  CHECK(s.rank == 3);
  CHECK(s.master_addr == "gpu012");
  auto none = read_launch_env(from({}));
  CHECK(none.world_size == 1);
  CHECK_THROWS_WITH(read_launch_env(from({{"RANK", "4"}, {"WORLD_SIZE", "4"}})), Catch::Contains("RANK"));
  CHECK_THROWS_WITH(read_launch_env(from({{"RANK", "x"}, {"WORLD_SIZE", "4"}})), Catch::Contains("RANK"));
}

TEST_CASE("first Slurm host of a node list", "[dist]") {
  CHECK(first_slurm_host("node01") == "node01");
  CHECK(first_slurm_host("a1,b2") == "a1");
  CHECK(first_slurm_host("gpu[3,5-7]") == "gpu3");
}
