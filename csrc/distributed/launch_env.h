#pragma once
// Where this process sits in a job, read from the launcher's environment:
// torchrun (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT) or Slurm
// (SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, first host of SLURM_JOB_NODELIST).
#include <functional>
#include <string>

namespace nairrcore::dist {

struct LaunchEnv {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  std::string launcher = "none";  // "torchrun", "slurm" or "none"
};

using EnvLookup = std::function<const char*(const char*)>;

// Reads the process environment (or `lookup`, for tests). ConfigError on
// malformed or inconsistent values, naming the variable.
LaunchEnv read_launch_env(const EnvLookup& lookup = {});

// First host of a Slurm node list: "gpu[012-015,020],cpu7" -> "gpu012".
std::string first_slurm_host(const std::string& nodelist);

}  // namespace nairrcore::dist
