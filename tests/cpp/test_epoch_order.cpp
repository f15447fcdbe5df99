#include <algorithm>
#include <set>

#include "common/errors.h"
#include "data/epoch_order.h"
#include "test_support.h"

using namespace nairrcore;
using namespace nairrcore::data;

TEST_CASE("epoch order is a permutation fixed by (seed, epoch)", "[order]") {
  auto a = epoch_order(1000, true, 7, 0, {});
  auto b = epoch_order(1000, true, 7, 0, {});
  auto c = epoch_order(1000, true, 7, 1, {});
  auto d = epoch_order(1000, true, 8, 0, {});
  CHECK(a == b);
  CHECK(a != c);
  CHECK(a != d);
  auto sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 1000; ++i) REQUIRE(sorted[i] == i);
}

TEST_CASE("shards are disjoint and cover the data with wrap-around padding", "[order]") {
  const int64_t n = 10;
  std::multiset<int64_t> seen;
  for (int r = 0; r < 3; ++r) {
    auto part = epoch_order(n, true, 1, 2, ShardSpec{r, 3});
    CHECK(part.size() == 4);  // ceil(10 / 3)
    seen.insert(part.begin(), part.end());
  }
  CHECK(seen.size() == 12);
  for (int64_t i = 0; i < n; ++i) CHECK(seen.count(i) >= 1);
  CHECK_THROWS_AS(epoch_order(n, true, 1, 0, ShardSpec{3, 3}), ConfigError);
}
