#pragma once
// Readers for the 210-city daily weather set: city_info.csv and <ID>.csv.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace nairrcore::data {

struct CityInfo {
  std::string id;
  std::string name;
  double lat = 0;
  double lon = 0;
};

struct CitySeries {
  std::string id;
  std::string path;
  std::vector<int32_t> days;  // days since 1970-01-01, strictly increasing
  std::vector<double> tmax, tmin, prcp;  // NaN where missing
};

// One entry per city ID (the file has one row per station period), sorted by
// ID. Rows of one ID that disagree on lat/lon raise DataError.
std::vector<CityInfo> read_city_info(const std::string& path);
// The same from bytes already in memory; `path` names them in errors.
std::vector<CityInfo> parse_city_info(std::string_view text, const std::string& path);

// Parses a city file; rows are sorted by date if the file is not. Duplicate
// or malformed dates and non-numeric values raise DataError with file:line.
CitySeries read_city_series(const std::string& path, const std::string& id);
CitySeries parse_city_series(std::string_view text, const std::string& path, const std::string& id);

}  // namespace nairrcore::data
