#pragma once
// Which rows a rank visits in an epoch, with DistributedSampler semantics:
// shuffle by (seed, epoch), pad by wrapping to a multiple of world_size, then
// take every world_size-th index starting at rank.
#include <cstdint>
#include <vector>

namespace nairrcore::data {

struct ShardSpec {
  int rank = 0;
  int world_size = 1;
  void validate() const;
};

std::vector<int64_t> epoch_order(int64_t n, bool shuffle, uint64_t seed, int64_t epoch,
                                 const ShardSpec& shard);

// Rows per rank for n rows (padding included).
int64_t shard_size(int64_t n, const ShardSpec& shard);

}  // namespace nairrcore::data
