#include <set>

#include "common/errors.h"
#include "data/tabular_loader.h"
#include "test_support.h"

using namespace nairrcore;
using namespace nairrcore::data;

namespace {
// Row i holds the value i in every column, so a batch tells which rows it has.
std::pair<at::Tensor, at::Tensor> labelled_rows(int64_t n) {
  auto ids = at::arange(n, at::kFloat).unsqueeze(1);
  return {ids.repeat({1, 5}).contiguous(), ids.repeat({1, 3}).contiguous()};
}

std::vector<int64_t> collect(TabularLoader& loader) {
  std::vector<int64_t> rows;
  Batch b;
  while (loader.next(b)) {
    REQUIRE(at::equal(b.x.select(1, 0), b.y.select(1, 2)));
    auto col = b.x.select(1, 0).to(at::kLong).contiguous();
    rows.insert(rows.end(), col.data_ptr<int64_t>(), col.data_ptr<int64_t>() + col.numel());
  }
  return rows;
}
}  // namespace

TEST_CASE("threaded loader yields every row once in the seeded order", "[loader]") {
  auto [x, y] = labelled_rows(1003);
  for (int workers : {0, 1, 3}) {
    LoaderOptions o;
    o.batch_size = 64;
    o.workers = workers;
    o.prefetch = 2;
    TabularLoader loader(x, y, c10::Device("cpu"), o);
    CHECK(loader.num_batches() == 16);
    loader.set_epoch(3);
    auto rows = collect(loader);
    CHECK(rows == epoch_order(1003, true, o.seed, 3, {}));
  }
}

TEST_CASE("loader resumes mid-epoch from its state", "[loader]") {
  auto [x, y] = labelled_rows(500);
  LoaderOptions o;
  o.batch_size = 50;
  TabularLoader loader(x, y, c10::Device("cpu"), o);
  loader.set_epoch(1);
  auto full = collect(loader);
  loader.set_epoch(1);
  Batch b;
  for (int i = 0; i < 4; ++i) REQUIRE(loader.next(b));
  auto state = loader.state();
  CHECK(state.next_batch == 4);
  TabularLoader resumed(x, y, c10::Device("cpu"), o);
  resumed.load_state(state);
  auto rest = collect(resumed);
  CHECK(std::vector<int64_t>(full.begin() + 200, full.end()) == rest);
}

TEST_CASE("loader rejects bad batch sizes and shapes", "[loader][errors]") {
  auto [x, y] = labelled_rows(10);
  LoaderOptions o;
  o.batch_size = 0;
  CHECK_THROWS_AS(TabularLoader(x, y, c10::Device("cpu"), o), ConfigError);
  o.batch_size = 11;
  CHECK_THROWS_WITH(TabularLoader(x, y, c10::Device("cpu"), o), Catch::Contains("larger than"));
  o.batch_size = 2;
  CHECK_THROWS_AS(TabularLoader(x, y.narrow(0, 0, 5), c10::Device("cpu"), o), ConfigError);
}

TEST_CASE("a batch held by the caller is not overwritten", "[loader]") {
  auto [x, y] = labelled_rows(400);
  LoaderOptions o;
  o.batch_size = 10;
  o.prefetch = 1;
  TabularLoader loader(x, y, c10::Device("cpu"), o);
  Batch first, other;
  REQUIRE(loader.next(first));
  auto copy = first.x.clone();
  while (loader.next(other)) {
  }
  CHECK(at::equal(first.x, copy));
}

TEST_CASE("the streamed loader reuses its host buffers while the caller holds the last batch",
          "[loader]") {
  auto [x, y] = labelled_rows(2000);
  LoaderOptions o;
  o.batch_size = 10;
  o.workers = 2;
  o.prefetch = 3;
  TabularLoader loader(x, y, c10::Device("cpu"), o);
  for (int64_t epoch = 0; epoch < 5; ++epoch) {
    loader.set_epoch(epoch);
    CHECK(collect(loader) == epoch_order(2000, true, o.seed, epoch, {}));  // b is held across next()
  }
  // 1000 batches from the prefetched ones, the one handed out and the one still held
  CHECK(loader.host_allocations() <= o.prefetch + 2);
}

namespace {
// A loader whose worker threads fail on batch 2, as a reader error would.
class FailingLoader final : public BatchLoader {
 public:
  explicit FailingLoader(LoaderOptions o) : BatchLoader(100, c10::Device("cpu"), o) { set_mode(false); }
  ~FailingLoader() override { stop(); }

 private:
  void alloc_host(at::Tensor& hx, at::Tensor& hy) override {
    hx = at::empty({options().batch_size, 1});
    hy = at::empty({options().batch_size, 1});
  }
  void fill_host(const int64_t* index, int64_t n, at::Tensor& hx, at::Tensor& hy) override {
    for (int64_t i = 0; i < n; ++i)
      if (index[i] == order_of_failure) throw DataError("broken.csv:7: the original message");
    hx.narrow(0, 0, n).fill_(1);
    hy.narrow(0, 0, n).fill_(1);
  }
  void make_resident(const at::Tensor&, const int64_t*, int64_t, Batch&) override {}

 public:
  int64_t order_of_failure = -1;
};
}  // namespace

TEST_CASE("an exception in a loader thread reaches the consumer with its message", "[loader][errors]") {
  LoaderOptions o;
  o.batch_size = 10;
  o.workers = 2;
  o.shuffle = false;
  FailingLoader loader(o);
  loader.order_of_failure = 25;  // in batch 2
  Batch b;
  CHECK(loader.next(b));
  CHECK(loader.next(b));
  CHECK_THROWS_WITH(
      [&] {
        while (loader.next(b)) {
        }
      }(),
      Catch::Contains("broken.csv:7: the original message"));
  loader.order_of_failure = -1;  // the loader is usable again after the error
  loader.set_epoch(1);
  int batches = 0;
  while (loader.next(b)) ++batches;
  CHECK(batches == 10);
}
