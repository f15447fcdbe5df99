// libFuzzer target: the city CSV and city_info.csv parsers must reject any
// input with DataError (or accept it), never crash, hang or read out of bounds.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/errors.h"
#include "data/weather_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    auto s = nairrcore::data::parse_city_series(text, "fuzz.csv", "FUZZ");
    for (size_t i = 1; i < s.days.size(); ++i) {
      if (s.days[i] <= s.days[i - 1]) __builtin_trap();  // promised: strictly increasing
    }
  } catch (const nairrcore::DataError&) {
  }
  try {
    nairrcore::data::parse_city_info(text, "fuzz_city_info.csv");
  } catch (const nairrcore::DataError&) {
  }
  return 0;
}
