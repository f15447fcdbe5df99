#pragma once
// Where a reader finds its files: a folder on disk, or contents already in
// memory (the members of an archive read without extracting it, so a run on a
// parallel file system touches one file instead of hundreds).
#include <map>
#include <memory>
#include <string>

namespace nairrcore::data {

class DataFiles {
 public:
  static DataFiles folder(std::string dir);
  // `label` names the source in messages (e.g. the archive's path).
  static DataFiles in_memory(std::string label, std::map<std::string, std::string> contents);

  // The name as it appears in messages and in the list of files read.
  std::string path(const std::string& name) const;
  bool exists(const std::string& name) const;
  // The whole file; DataError naming it when it cannot be read.
  std::string read(const std::string& name) const;

 private:
  std::string root_;
  std::shared_ptr<const std::map<std::string, std::string>> contents_;  // null: a folder
};

}  // namespace nairrcore::data
