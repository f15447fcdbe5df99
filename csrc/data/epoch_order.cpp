#include "data/epoch_order.h"

#include <numeric>
#include <string>

#include "common/errors.h"
#include "common/rng.h"

namespace nairrcore::data {

void ShardSpec::validate() const {
  NAIRR_CHECK_ARG(world_size >= 1, "world_size: expected >= 1, got " + std::to_string(world_size));
  NAIRR_CHECK_ARG(rank >= 0 && rank < world_size,
                  "rank: expected 0 <= rank < world_size (" + std::to_string(world_size) +
                      "), got " + std::to_string(rank));
}

int64_t shard_size(int64_t n, const ShardSpec& shard) {
  return (n + shard.world_size - 1) / shard.world_size;
}

std::vector<int64_t> epoch_order(int64_t n, bool shuffle, uint64_t seed, int64_t epoch,
                                 const ShardSpec& shard) {
  shard.validate();
  std::vector<int64_t> order;
  if (shuffle) {
    order = permutation(n, seed, static_cast<uint64_t>(epoch));
  } else {
    order.resize(n);
    std::iota(order.begin(), order.end(), 0);
  }
  if (shard.world_size == 1) return order;
  const int64_t per_rank = shard_size(n, shard);
  std::vector<int64_t> mine;
  mine.reserve(per_rank);
  for (int64_t i = shard.rank; i < per_rank * shard.world_size; i += shard.world_size) {
    mine.push_back(order[i % n]);
  }
  return mine;
}

}  // namespace nairrcore::data
