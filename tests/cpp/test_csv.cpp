#include <cmath>

#include "common/errors.h"
#include "data/csv.h"
#include "data/weather_reader.h"
#include "test_support.h"

using namespace nairrcore;
using namespace nairrcore::data;

TEST_CASE("split_csv_line handles quotes, escaped quotes and empty fields", "[csv]") {
  std::vector<std::string_view> f;
  std::deque<std::string> scratch;
  REQUIRE(split_csv_line(R"("1","Albany, NY",,3.5,"say ""hi""")", f, scratch));
  REQUIRE(f.size() == 5);
  CHECK(f[0] == "1");
  CHECK(f[1] == "Albany, NY");
  CHECK(f[2].empty());
  CHECK(f[3] == "3.5");
  CHECK(f[4] == R"(say "hi")");
}

TEST_CASE("many escaped fields on one line stay intact", "[csv]") {
  // Found by fuzz_weather_csv: escaped fields live in `scratch`, which must not
  // move earlier ones when it grows.
  std::vector<std::string_view> f;
  std::deque<std::string> scratch;
  REQUIRE(split_csv_line(R"("a""1","b""2","c""3","d""4","e""5","f""6","g""7","h""8","i""9")", f, scratch));
  REQUIRE(f.size() == 9);
  for (size_t i = 0; i < f.size(); ++i) {
    CHECK(f[i] == std::string(1, static_cast<char>('a' + i)) + "\"" + std::to_string(i + 1));
  }
}

TEST_CASE("parse_number reads numbers and NA, rejects text", "[csv]") {
  double v = 0;
  CHECK(parse_number("0.75", v));
  CHECK(v == Approx(0.75));
  CHECK(parse_number("-12", v));
  CHECK(v == -12);
  CHECK(parse_number("NA", v));
  CHECK(std::isnan(v));
  CHECK_FALSE(parse_number("abc", v));
  CHECK_FALSE(parse_number("1.5x", v));
  CHECK_FALSE(parse_number("inf", v));
  CHECK_FALSE(parse_number("+-5", v));  // one sign at most
  CHECK_FALSE(parse_number("0x10", v));
  CHECK_FALSE(parse_number("1_0", v));
  CHECK_FALSE(parse_number("\t1", v));
  CHECK(parse_number(" +.5 ", v));
  CHECK(v == 0.5);
  CHECK(parse_number("1e-400", v));  // underflow reads as zero, as strtod and Python's float do
  CHECK(v == 0.0);
  CHECK_FALSE(parse_number("1e400", v));
}

TEST_CASE("a quoted field must close, and only a comma may follow it", "[csv]") {
  std::vector<std::string_view> f;
  std::deque<std::string> scratch;
  CHECK_FALSE(split_csv_line(R"("ab,1)", f, scratch));
  CHECK_FALSE(split_csv_line(R"("ab"cd,1)", f, scratch));
  REQUIRE(split_csv_line(R"(ab"cd,"1",)", f, scratch));  // a quote inside an unquoted field is text
  REQUIRE(f.size() == 3);
  CHECK(f[0] == R"(ab"cd)");
  CHECK(f[2].empty());
}

TEST_CASE("dates round-trip and day of year is right", "[csv]") {
  int32_t d = 0;
  REQUIRE(parse_date("1970-01-01", d));
  CHECK(d == 0);
  REQUIRE(parse_date("2016-12-31", d));
  CHECK(format_date(d) == "2016-12-31");
  CHECK(day_of_year(d) == 366);  // leap year
  REQUIRE(parse_date("1900-03-01", d));
  CHECK(day_of_year(d) == 60);  // 1900 is not a leap year
  CHECK_FALSE(parse_date("2019-02-29", d));
  CHECK_FALSE(parse_date("2019-13-01", d));
  CHECK_FALSE(parse_date("20190101", d));
  CHECK_FALSE(parse_date("-001-01-01", d));
  CHECK_FALSE(parse_date("0000-01-01", d));
  CHECK_FALSE(parse_date("2019-+1-01", d));
}

TEST_CASE("city file errors name the file and line", "[csv][errors]") {
  testing::ScratchDir dir;
  auto bad_value = dir.write("A.csv", "\"\",Date,tmax,tmin,prcp\n\"1\",2000-01-01,50,40,0\n\"2\",2000-01-02,abc,40,0\n");
  try {
    read_city_series(bad_value, "A");
    FAIL("expected DataError");
  } catch (const DataError& e) {
    std::string msg = e.what();
    CHECK(msg.find(bad_value + ":3") != std::string::npos);
    CHECK(msg.find("tmax") != std::string::npos);
  }
  auto missing_col = dir.write("B.csv", "\"\",Date,tmax,prcp\n\"1\",2000-01-01,50,0\n");
  CHECK_THROWS_WITH(read_city_series(missing_col, "B"), Catch::Contains("missing column 'tmin'"));
  auto empty = dir.write("C.csv", "");
  CHECK_THROWS_WITH(read_city_series(empty, "C"), Catch::Contains("empty file"));
  auto dup = dir.write("D.csv", "\"\",Date,tmax,tmin,prcp\n\"1\",2000-01-01,50,40,0\n\"2\",2000-01-01,51,41,0\n");
  CHECK_THROWS_WITH(read_city_series(dup, "D"), Catch::Contains("duplicated date 2000-01-01"));
  auto bad_date = dir.write("E.csv", "\"\",Date,tmax,tmin,prcp\n\"1\",2000-02-30,50,40,0\n");
  CHECK_THROWS_WITH(read_city_series(bad_date, "E"), Catch::Contains(":2: column 'Date'"));
  CHECK_THROWS_AS(read_city_series(dir.path() + "/missing.csv", "X"), DataError);
}

TEST_CASE("unsorted city file is sorted by date", "[csv]") {
  testing::ScratchDir dir;
  auto path = dir.write("A.csv", "\"\",Date,tmax,tmin,prcp\n\"1\",2000-01-02,51,41,NA\n\"2\",2000-01-01,50,40,0.1\n");
  auto s = read_city_series(path, "A");
  REQUIRE(s.days.size() == 2);
  CHECK(s.days[0] < s.days[1]);
  CHECK(s.tmax[0] == 50);
  CHECK(std::isnan(s.prcp[1]));
}
