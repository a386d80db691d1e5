// Our checks of model files before LibTorch parses them
// (src/core/model_archive.h): archives written by refinery's own writer and
// by python3-torch's are accepted with their metadata; a truncated file, a
// directory offset off by one, a local header out of place, a flipped byte
// in the metadata, a missing metadata entry and a file that is no zip are
// each refused with one line naming the file and the part, and
// load_torchscript refuses them the same way before LibTorch sees them.
#include "tests/testing.hpp"

#include <fstream>

#include <nlohmann/json.hpp>

#include "models/dcr_network.h"
#include "models/torchscript_export.h"
#include "src/core/error.h"
#include "src/core/model_archive.h"

using namespace refinery;
using nlohmann::json;

namespace {

std::string refused(const std::string& bytes, const std::string& path = "m.pt") {
  try {
    read_model_archive_metadata(bytes, path);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

void write(const std::string& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

// Offset of the end-of-central-directory record (the last "PK\5\6").
std::size_t end_record(const std::string& b) { return b.rfind(std::string("PK\x05\x06", 4)); }

}  // namespace

TEST_CASE("Model archives: well-formed ones give their metadata, damaged ones one line before LibTorch", "[archive]") {
  refinery::testing::TempDir tmp("model_archive");
  torch::manual_seed(3);
  DCRNetwork net(DCRNetworkOptions(2, 1).hidden({4}));
  torch::jit::Module ts = dcr_to_torchscript(net);
  const json meta = {{"kind", "dcr"}, {"process", "p"}, {"nuisances", {"a"}}, {"order", 2}, {"n_features", 2}};
  save_torchscript(ts, meta, tmp.path("dcr.pt"));
  CHECK(read_model_archive_metadata_file(tmp.path("dcr.pt")) == meta);
  const std::string good = refinery::testing::read_file(tmp.path("dcr.pt"));
  // python3-torch's archives (the fuzz seeds) too.
  const json seed = read_model_archive_metadata_file(refinery::testing::source_path("fuzz/seeds/model_archive/dcr_like.pt"));
  CHECK(seed["kind"] == "dcr");

  const std::size_t eocd = end_record(good);
  REQUIRE(eocd != std::string::npos);
  auto patch32 = [](std::string b, std::size_t at, std::uint32_t v) {
    for (int k = 0; k < 4; ++k) b[at + k] = static_cast<char>((v >> (8 * k)) & 0xFF);
    return b;
  };
  auto read32 = [&](std::size_t at) {
    std::uint32_t v = 0;
    for (int k = 3; k >= 0; --k) v = (v << 8) | static_cast<unsigned char>(good[at + k]);
    return v;
  };
  const std::uint32_t cd_offset = read32(eocd + 16);
  struct Damage {
    std::string what, bytes, message;
  };
  std::string flipped = good;
  const std::size_t meta_at = good.find("\"process\"");  // inside the stored metadata.json
  REQUIRE(meta_at != std::string::npos);
  flipped[meta_at + 2] ^= 0x01;
  const std::vector<Damage> damages = {
      {"truncated", good.substr(0, good.size() / 2), "m.pt: not a TorchScript archive"},
      {"not a zip", std::string(1000, 'x'), "m.pt: not a TorchScript archive"},
      {"directory offset + 1", patch32(good, eocd + 16, cd_offset + 1), "no entry where the directory says"},
      {"local header offset", patch32(good, cd_offset + 42, 7), "no local header at its offset 7"},
      {"directory beyond its end", patch32(good, eocd + 12, 0x7FFFFFFF), "the central directory lies beyond its end record"},
      {"flipped metadata byte", flipped, "m.pt: metadata.json: fails its CRC-32"}};
  for (const auto& d : damages) {
    INFO(d.what);
    const std::string message = refused(d.bytes);
    INFO(message);
    CHECK(message.find(d.message) != std::string::npos);
    // load_torchscript refuses the file the same way.
    write(tmp.path("bad.pt"), d.bytes);
    std::string loaded;
    try {
      load_torchscript(tmp.path("bad.pt"));
    } catch (const InputError& e) {
      loaded = e.what();
    }
    CHECK(loaded.find(d.message.substr(d.message.find(':') == 4 ? 6 : 0)) != std::string::npos);
  }
  // An archive without refinery's metadata.
  {
    std::ostringstream out;
    ts.save(out);
    CHECK(refused(out.str()) == "m.pt: metadata.json: not a refinery model (no metadata)");
  }
}
