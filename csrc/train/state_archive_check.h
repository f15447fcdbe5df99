#pragma once
// A training state is a TorchScript zip archive. Its importer trusts the
// lengths written inside it: a damaged pickle that claims a 3 GB string, or
// memo slot four billion, is allocated before the read fails. This check
// bounds every such length by the bytes that are really there, so a damaged
// state costs no more memory than its own size and fails as a DataError.
#include <string>

namespace nairrcore::train {

// DataError naming the record and offset of the first impossible length.
void check_state_archive(const std::string& blob);

}  // namespace nairrcore::train
