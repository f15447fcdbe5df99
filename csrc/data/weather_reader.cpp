#include "data/weather_reader.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "common/errors.h"
#include "data/csv.h"

namespace nairrcore::data {

namespace {

std::string where(const std::string& path, int64_t line) {
  return path + ":" + std::to_string(line);
}

double parse_coordinate(std::string_view text, const std::string& column,
                        const std::string& path, int64_t line) {
  double value = 0;
  if (!parse_number(text, value) || std::isnan(value)) {
    throw DataError(where(path, line) + ": column '" + column + "': expected a number, got '" +
                    std::string(text) + "'");
  }
  return value;
}

}  // namespace

std::vector<CityInfo> read_city_info(const std::string& path) {
  return parse_city_info(read_file(path), path);
}

std::vector<CityInfo> parse_city_info(std::string_view text, const std::string& path) {
  LineReader lines(text);
  std::string_view line;
  std::vector<std::string_view> fields;
  std::deque<std::string> scratch;  // a deque: growing it never moves the strings fields point into
  if (!lines.next(line) || line.empty()) throw DataError(path + ": empty file, expected a header");
  split_csv_line(line, fields, scratch);
  const auto col = locate_columns(fields, {"ID", "Name", "Lat", "Lon"}, path);
  const size_t needed = static_cast<size_t>(*std::max_element(col.begin(), col.end())) + 1;

  std::map<std::string, CityInfo> by_id;
  while (lines.next(line)) {
    if (line.empty()) continue;
    split_csv_line(line, fields, scratch);
    if (fields.size() < needed) {
      throw DataError(where(path, lines.line_number()) + ": expected at least " +
                      std::to_string(needed) + " fields, got " + std::to_string(fields.size()));
    }
    CityInfo info;
    info.id = std::string(fields[col[0]]);
    info.name = std::string(fields[col[1]]);
    info.lat = parse_coordinate(fields[col[2]], "Lat", path, lines.line_number());
    info.lon = parse_coordinate(fields[col[3]], "Lon", path, lines.line_number());
    if (info.id.empty()) throw DataError(where(path, lines.line_number()) + ": empty ID");
    auto [it, inserted] = by_id.emplace(info.id, info);
    if (!inserted && (it->second.lat != info.lat || it->second.lon != info.lon)) {
      throw DataError(where(path, lines.line_number()) + ": city " + info.id +
                      " has conflicting coordinates in different rows");
    }
  }
  if (by_id.empty()) throw DataError(path + ": no city rows");
  std::vector<CityInfo> out;
  out.reserve(by_id.size());
  for (auto& [id, info] : by_id) out.push_back(std::move(info));
  return out;
}

CitySeries read_city_series(const std::string& path, const std::string& id) {
  return parse_city_series(read_file(path), path, id);
}

CitySeries parse_city_series(std::string_view text, const std::string& path, const std::string& id) {
  LineReader lines(text);
  std::string_view line;
  std::vector<std::string_view> fields;
  std::deque<std::string> scratch;  // a deque: growing it never moves the strings fields point into
  if (!lines.next(line) || line.empty()) throw DataError(path + ": empty file, expected a header");
  split_csv_line(line, fields, scratch);
  const auto col = locate_columns(fields, {"Date", "tmax", "tmin", "prcp"}, path);
  const size_t needed = static_cast<size_t>(*std::max_element(col.begin(), col.end())) + 1;
  static const char* names[] = {"Date", "tmax", "tmin", "prcp"};

  CitySeries s;
  s.id = id;
  s.path = path;
  const size_t guess = text.size() / 24;
  s.days.reserve(guess);
  s.tmax.reserve(guess);
  s.tmin.reserve(guess);
  s.prcp.reserve(guess);
  bool sorted = true;
  while (lines.next(line)) {
    if (line.empty()) continue;
    split_csv_line(line, fields, scratch);
    if (fields.size() < needed) {
      throw DataError(where(path, lines.line_number()) + ": expected " + std::to_string(needed) +
                      " fields, got " + std::to_string(fields.size()));
    }
    int32_t day = 0;
    if (!parse_date(fields[col[0]], day)) {
      throw DataError(where(path, lines.line_number()) + ": column 'Date': expected YYYY-MM-DD, got '" +
                      std::string(fields[col[0]]) + "'");
    }
    double v[3];
    for (int k = 0; k < 3; ++k) {
      if (!parse_number(fields[col[k + 1]], v[k])) {
        throw DataError(where(path, lines.line_number()) + ": column '" + names[k + 1] +
                        "': expected a number or NA, got '" + std::string(fields[col[k + 1]]) + "'");
      }
    }
    if (!s.days.empty() && day <= s.days.back()) sorted = false;
    s.days.push_back(day);
    s.tmax.push_back(v[0]);
    s.tmin.push_back(v[1]);
    s.prcp.push_back(v[2]);
  }
  if (s.days.empty()) throw DataError(path + ": no data rows after the header");
  if (!sorted) {
    std::vector<size_t> order(s.days.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return s.days[a] < s.days[b]; });
    auto apply = [&](auto& v) {
      auto copy = v;
      for (size_t i = 0; i < order.size(); ++i) v[i] = copy[order[i]];
    };
    apply(s.days);
    apply(s.tmax);
    apply(s.tmin);
    apply(s.prcp);
  }
  for (size_t i = 1; i < s.days.size(); ++i) {
    if (s.days[i] == s.days[i - 1]) {
      throw DataError(path + ": duplicated date " + format_date(s.days[i]));
    }
  }
  return s;
}

}  // namespace nairrcore::data
