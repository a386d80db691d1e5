// `refinery export MODEL.pt --out MODEL.onnx`: a trained classifier, SANNT
// or DCR network (its TorchScript archive) as an ONNX file holding the whole
// evaluation path with its metadata (models/onnx_export.h), written
// atomically. Likelihood surrogates are ONNX files already.
#include <filesystem>
#include <iostream>

#include "models/onnx_export.h"
#include "models/torchscript_export.h"
#include "src/cli/options.h"
#include "src/core/error.h"

namespace refinery::cli {

int run_export(int argc, char** argv) {
  cxxopts::Options options(argv[0], "Export a trained network (classifier, SANNT or DCR archive) as ONNX: "
                                    "`refinery export MODEL.pt --out MODEL.onnx`");
  options.add_options()("model", "Model archive (.pt) written by `refinery train`", cxxopts::value<std::string>());
  add_common_options(options, false, true);
  options.parse_positional({"model"});
  options.positional_help("MODEL.pt");
  auto r = parse(options, argc, argv);
  if (!r) return 0;
  const CommonOptions common = common_options(*r);
  if (!r->count("model")) throw InputError("", "MODEL", "no model archive given");
  if (common.out.empty()) throw InputError("", "--out", "no output file given");
  const std::string path = (*r)["model"].as<std::string>();
  nlohmann::json metadata;
  const torch::jit::Module module = load_torchscript(path, &metadata);
  const onnx::Model model = archive_to_onnx(module, metadata, path);
  const std::filesystem::path parent = std::filesystem::path(common.out).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  onnx::write_file(common.out, model);
  if (!common.quiet) {
    std::cout << "wrote " << common.out << " (" << *model.property("kind") << "; inputs";
    for (const auto& v : model.graph.inputs) std::cout << " " << v.name;
    std::cout << "; outputs";
    for (const auto& v : model.graph.outputs) std::cout << " " << v.name;
    std::cout << ")\n";
  }
  return 0;
}

}  // namespace refinery::cli
