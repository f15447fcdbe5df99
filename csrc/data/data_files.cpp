#include "data/data_files.h"

#include <sys/stat.h>

#include "common/errors.h"
#include "data/csv.h"

namespace nairrcore::data {

DataFiles DataFiles::folder(std::string dir) {
  DataFiles f;
  f.root_ = std::move(dir);
  return f;
}

DataFiles DataFiles::in_memory(std::string label, std::map<std::string, std::string> contents) {
  DataFiles f;
  f.root_ = std::move(label);
  f.contents_ = std::make_shared<const std::map<std::string, std::string>>(std::move(contents));
  return f;
}

std::string DataFiles::path(const std::string& name) const {
  if (contents_) return root_ + ":" + name;
  // std::filesystem is avoided on purpose: libtorch exports its own copies of
  // some of its symbols, built against another libstdc++.
  return root_.empty() || root_.back() == '/' ? root_ + name : root_ + "/" + name;
}

bool DataFiles::exists(const std::string& name) const {
  if (contents_) return contents_->count(name) > 0;
  struct stat st {};
  return ::stat(path(name).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string DataFiles::read(const std::string& name) const {
  if (!contents_) return read_file(path(name));
  auto it = contents_->find(name);
  if (it == contents_->end()) throw DataError(path(name) + ": not in the archive");
  return it->second;
}

}  // namespace nairrcore::data
