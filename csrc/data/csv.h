#pragma once
// Minimal CSV helpers for the published weather files: comma separated,
// optional double quotes, "NA" for missing numbers.
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace nairrcore::data {

// Whole file as bytes; DataError naming the path if it cannot be read.
std::string read_file(const std::string& path);

// Split one line into fields, removing surrounding quotes ("" inside quotes
// becomes "). Views point into `line` or into `scratch` for unescaped fields.
void split_csv_line(std::string_view line, std::vector<std::string_view>& fields,
                    std::deque<std::string>& scratch);

// Index of each wanted column in the header; DataError naming the file and
// the missing column otherwise.
std::vector<int> locate_columns(const std::vector<std::string_view>& header,
                                const std::vector<std::string>& wanted,
                                const std::string& path);

// Number or NaN for "NA"/empty. Returns false on anything else.
bool parse_number(std::string_view text, double& out);

// `text` safe to put in an error message: bytes outside printable ASCII as
// \xHH, at most 40 characters (an error message must itself be valid text).
std::string printable(std::string_view text);
// Offset of the first byte that breaks UTF-8 in `text`, or -1 when it is valid.
int64_t invalid_utf8_at(std::string_view text);

// Days since 1970-01-01 for "YYYY-MM-DD". Returns false on a malformed date.
bool parse_date(std::string_view text, int32_t& days);
// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
constexpr int32_t days_from_civil(int y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int>(doe) - 719468;
}
int day_of_year(int32_t days);  // 1..366
void civil_from_days(int32_t days, int& y, unsigned& m, unsigned& d);
std::string format_date(int32_t days);  // "YYYY-MM-DD"

// Iterates the lines of a buffer (handles \n and \r\n), counting from 1.
class LineReader {
 public:
  explicit LineReader(std::string_view text) : text_(text) {}
  bool next(std::string_view& line);
  int64_t line_number() const { return line_no_; }

 private:
  std::string_view text_;
  size_t pos_ = 0;
  int64_t line_no_ = 0;
};

}  // namespace nairrcore::data
