#include "distributed/launch_env.h"

#include <cstdlib>

#include "common/errors.h"

namespace nairrcore::dist {

namespace {

int parse_int(const EnvLookup& env, const char* name, int fallback) {
  const char* raw = env(name);
  if (raw == nullptr || *raw == '\0') return fallback;
  char* end = nullptr;
  long v = std::strtol(raw, &end, 10);
  if (*end != '\0' || v < 0) {
    throw ConfigError(std::string(name) + ": expected a non-negative integer, got '" + raw + "'");
  }
  return static_cast<int>(v);
}

}  // namespace

std::string first_slurm_host(const std::string& nodelist) {
  const auto comma = nodelist.find(',');
  const auto bracket = nodelist.find('[');
  if (bracket == std::string::npos || (comma != std::string::npos && comma < bracket)) {
    return nodelist.substr(0, comma);
  }
  const auto close = nodelist.find(']', bracket);
  NAIRR_CHECK_ARG(close != std::string::npos, "SLURM_JOB_NODELIST: unbalanced '[' in '" + nodelist + "'");
  std::string first = nodelist.substr(bracket + 1, close - bracket - 1);
  first = first.substr(0, first.find_first_of(",-"));
  return nodelist.substr(0, bracket) + first;
}

LaunchEnv read_launch_env(const EnvLookup& lookup) {
  EnvLookup env = lookup ? lookup : EnvLookup([](const char* n) { return std::getenv(n); });
  LaunchEnv out;
  if (env("RANK") != nullptr && env("WORLD_SIZE") != nullptr) {
    out.launcher = "torchrun";
    out.rank = parse_int(env, "RANK", 0);
    out.world_size = parse_int(env, "WORLD_SIZE", 1);
    out.local_rank = parse_int(env, "LOCAL_RANK", 0);
    if (const char* a = env("MASTER_ADDR")) out.master_addr = a;
    out.master_port = parse_int(env, "MASTER_PORT", out.master_port);
  } else if (env("SLURM_PROCID") != nullptr && env("SLURM_NTASKS") != nullptr) {
    out.launcher = "slurm";
    out.rank = parse_int(env, "SLURM_PROCID", 0);
    out.world_size = parse_int(env, "SLURM_NTASKS", 1);
    out.local_rank = parse_int(env, "SLURM_LOCALID", 0);
    if (const char* a = env("MASTER_ADDR")) {
      out.master_addr = a;
    } else if (const char* nodes = env("SLURM_JOB_NODELIST")) {
      out.master_addr = first_slurm_host(nodes);
    }
    // Jobs sharing a node need different ports: derive one from the job id.
    const int job = parse_int(env, "SLURM_JOB_ID", 0);
    out.master_port = parse_int(env, "MASTER_PORT", job > 0 ? 20000 + job % 20000 : out.master_port);
  }
  NAIRR_CHECK_ARG(out.world_size >= 1, "WORLD_SIZE: expected >= 1");
  NAIRR_CHECK_ARG(out.rank < out.world_size, "RANK: " + std::to_string(out.rank) +
                                                 " is not below the world size " +
                                                 std::to_string(out.world_size));
  NAIRR_CHECK_ARG(out.master_port > 0 && out.master_port < 65536,
                  "MASTER_PORT: expected 1..65535, got " + std::to_string(out.master_port));
  return out;
}

}  // namespace nairrcore::dist
