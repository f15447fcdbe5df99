#pragma once
// Helpers shared by the C++ tests: the real data folder and scratch files.
#include <catch2/catch.hpp>

#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

namespace nairrcore::testing {

// Extracted USdata folder, from NAIRRCORE_WEATHER_DIR (set by scripts/dev.sh).
inline std::string weather_dir() {
  const char* dir = std::getenv("NAIRRCORE_WEATHER_DIR");
  struct stat st {};
  if (dir == nullptr || ::stat((std::string(dir) + "/city_info.csv").c_str(), &st) != 0) {
    FAIL("NAIRRCORE_WEATHER_DIR must point at the extracted USdata folder (scripts/dev.sh sets it)");
  }
  return dir;
}

// A temporary folder removed with its files at scope exit. (No std::filesystem:
// libtorch exports clashing copies of some of its symbols.)
class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = "/tmp/nairrcore-test-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) FAIL("mkdtemp failed");
    path_ = tmpl;
  }
  ~ScratchDir() {
    ::nftw(path_.c_str(), [](const char* p, const struct stat*, int, struct FTW*) { return ::remove(p); },
           16, FTW_DEPTH | FTW_PHYS);
  }
  std::string write(const std::string& name, const std::string& text) const {
    auto p = path_ + "/" + name;
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }
  std::string path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace nairrcore::testing
