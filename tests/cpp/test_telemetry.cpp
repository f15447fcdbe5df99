#include <thread>

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
