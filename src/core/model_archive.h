// Our own checks of a model file before LibTorch parses it (issue 15): a
// TorchScript archive is a zip file (PKWARE's APPNOTE.TXT, 6.3: end of
// central directory, central directory, local headers; ZIP64 where sizes or
// counts overflow), whose entries LibTorch's writer stores uncompressed under
// one top folder, with refinery's metadata in <folder>/extra/metadata.json.
// The reader walks that structure with every offset and size checked against
// the file, reads the metadata entry and parses it; a file that fails is
// refused with one line naming it and the part, so LibTorch's loader only
// ever sees well-formed archives. LibTorch-free: `inspect` and the fuzz
// target (fuzz/fuzz_targets.h) use it without loading LibTorch.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

namespace refinery {

// The metadata JSON of a TorchScript archive held in `bytes` (read from
// `path`, for messages); InputError naming `path` and the failing part
// ("zip: ...", "metadata.json") otherwise.
nlohmann::json read_model_archive_metadata(const std::string& bytes, const std::string& path);

// The same for a file; InputError if it cannot be read.
nlohmann::json read_model_archive_metadata_file(const std::string& path);

}  // namespace refinery
