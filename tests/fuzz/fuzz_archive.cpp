// libFuzzer target: the weather data set built from files held in memory (an
// archive's members) must reject any input with DataError or ConfigError, or
// give finite feature and target tensors; never crash or read out of bounds.
// The input is city_info.csv and one city file, split at the first NUL byte.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "common/errors.h"
#include "data/data_files.h"
#include "data/weather_features.h"
#include "data/weather_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const size_t cut = bytes.find('\0');
  if (cut == std::string_view::npos) return 0;
  std::map<std::string, std::string> contents{{"city_info.csv", std::string(bytes.substr(0, cut))}};
  try {
    auto probe = nairrcore::data::parse_city_info(contents["city_info.csv"], "city_info.csv");
    contents[probe.front().id + ".csv"] = std::string(bytes.substr(cut + 1));
    auto files = nairrcore::data::DataFiles::in_memory("fuzz.tar.xz", contents);
    auto cities = nairrcore::data::select_cities(files, {}, 1);
    nairrcore::data::FeatureSpec spec;
    auto ds = nairrcore::data::build_weather_dataset(files, cities, spec, 1);
    for (const auto* split : {&ds.train, &ds.val, &ds.test}) {
      if (!split->x.isfinite().all().item<bool>() || !split->y.isfinite().all().item<bool>()) __builtin_trap();
    }
  } catch (const nairrcore::DataError&) {
  } catch (const nairrcore::ConfigError&) {
  }
  return 0;
}
