#include "data/csv.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include "common/errors.h"

namespace nairrcore::data {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw DataError(path + ": cannot open file (" + std::strerror(errno) + ")");
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw DataError(path + ": read error");
  return buffer.str();
}

bool LineReader::next(std::string_view& line) {
  if (pos_ >= text_.size()) return false;
  size_t end = text_.find('\n', pos_);
  if (end == std::string_view::npos) end = text_.size();
  line = text_.substr(pos_, end - pos_);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  pos_ = end + 1;
  ++line_no_;
  return true;
}

void split_csv_line(std::string_view line, std::vector<std::string_view>& fields,
                    std::deque<std::string>& scratch) {
  fields.clear();
  scratch.clear();
  size_t i = 0;
  while (true) {
    if (i < line.size() && line[i] == '"') {
      size_t start = ++i;
      bool escaped = false;
      while (i < line.size()) {
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            escaped = true;
            i += 2;
            continue;
          }
          break;
        }
        ++i;
      }
      std::string_view raw = line.substr(start, i - start);
      if (escaped) {
        std::string s;
        for (size_t k = 0; k < raw.size(); ++k) {
          s.push_back(raw[k]);
          if (raw[k] == '"') ++k;
        }
        scratch.push_back(std::move(s));
        fields.emplace_back(scratch.back());
      } else {
        fields.push_back(raw);
      }
      if (i < line.size()) ++i;  // closing quote
      size_t comma = line.find(',', i);
      if (comma == std::string_view::npos) return;
      i = comma + 1;
    } else {
      size_t comma = line.find(',', i);
      if (comma == std::string_view::npos) {
        fields.push_back(line.substr(i));
        return;
      }
      fields.push_back(line.substr(i, comma - i));
      i = comma + 1;
    }
  }
}

std::vector<int> locate_columns(const std::vector<std::string_view>& header,
                                const std::vector<std::string>& wanted,
                                const std::string& path) {
  std::vector<int> index;
  for (const auto& name : wanted) {
    int found = -1;
    for (size_t c = 0; c < header.size(); ++c) {
      if (header[c] == name) found = static_cast<int>(c);
    }
    if (found < 0) {
      std::string have;
      for (auto h : header) have += (have.empty() ? "" : ",") + std::string(h);
      throw DataError(path + ": missing column '" + name + "' (header has: " + printable(have) + ")");
    }
    index.push_back(found);
  }
  return index;
}

bool parse_number(std::string_view text, double& out) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  if (text.empty() || text == "NA") {
    out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  if (text.front() == '+') text.remove_prefix(1);
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && ptr == text.data() + text.size() && std::isfinite(out);
}

static bool is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

std::string printable(std::string_view text) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < text.size() && out.size() < 40; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  if (out.size() >= 40 && text.size() > 40) out += "...";
  return out;
}

int64_t invalid_utf8_at(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  for (size_t i = 0; i < n;) {
    const unsigned char c = s[i];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (len == 0 || i + len > n || (len == 2 && c < 0xc2)) return static_cast<int64_t>(i);
    for (size_t k = 1; k < len; ++k)
      if ((s[i + k] & 0xc0) != 0x80) return static_cast<int64_t>(i);
    i += len;
  }
  return -1;
}

bool parse_date(std::string_view text, int32_t& days) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return false;
  int y = 0;
  unsigned m = 0, d = 0;
  auto digits = [&](size_t from, size_t len, auto& value) {
    auto [p, ec] = std::from_chars(text.data() + from, text.data() + from + len, value);
    return ec == std::errc() && p == text.data() + from + len;
  };
  if (!digits(0, 4, y) || !digits(5, 2, m) || !digits(8, 2, d)) return false;
  static const unsigned month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m < 1 || m > 12 || d < 1) return false;
  unsigned limit = month_days[m - 1] + (m == 2 && is_leap(y) ? 1 : 0);
  if (d > limit) return false;
  days = days_from_civil(y, m, d);
  return true;
}

void civil_from_days(int32_t days, int& y, unsigned& m, unsigned& d) {
  const int32_t z = days + 719468;
  const int era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy_mar = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy_mar + 2) / 153;
  d = doy_mar - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<int>(yoe) + era * 400 + (m <= 2);
}

int day_of_year(int32_t days) {
  int y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  return days - days_from_civil(y, 1, 1) + 1;
}

std::string format_date(int32_t days) {
  int y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%04d-%02u-%02u", y, m, d);
  return buf;
}

}  // namespace nairrcore::data
