#include <H5Cpp.h>

#include <cstring>
#include <cxxopts.hpp>
#include <cstdlib>
#include <iostream>

#include "src/cli/command.h"
#include "src/core/error.h"
#include "src/core/version.h"

namespace refinery::cli {

namespace {

void print_usage(std::ostream& os) {
  os << "refinery: ML-based statistical inference with unbinned and binned likelihoods\n\n"
        "Usage: refinery <command> [options]\n"
        "       refinery <command> --help\n"
        "       refinery --version\n\n"
        "Commands:\n";
  for (const auto& c : commands()) {
    std::string name = c.name;
    name.resize(12, ' ');
    os << "  " << name << c.summary << "\n";
  }
  os << "\nCommon options: --config FILE, --threads N, --seed S, --out PATH, --quiet\n"
        "Exit codes: 0 success, 2 usage or input error, 1 internal failure.\n";
}

}  // namespace

int dispatch(int argc, char** argv) {
  if (argc < 2) {
    print_usage(std::cerr);
    return 2;
  }
  const std::string first = argv[1];
  if (first == "-h" || first == "--help" || first == "help") {
    print_usage(std::cout);
    return 0;
  }
  if (first == "--version" || first == "version") {
    std::cout << version_banner() << std::endl;
    return 0;
  }
  const Command* command = nullptr;
  for (const auto& c : commands())
    if (first == c.name) command = &c;
  if (!command) {
    std::cerr << "refinery: error: unknown command '" << first << "' (see refinery --help)\n";
    return 2;
  }
  std::string program = std::string("refinery ") + command->name;
  std::vector<char*> args;
  args.push_back(program.data());
  for (int i = 2; i < argc; ++i) args.push_back(argv[i]);
  try {
    return command->run(static_cast<int>(args.size()), args.data());
  } catch (const InputError& e) {
    std::cerr << "refinery " << command->name << ": error: " << e.what() << "\n";
    return 2;
  } catch (const cxxopts::exceptions::exception& e) {
    std::cerr << "refinery " << command->name << ": usage error: " << e.what()
              << " (see refinery " << command->name << " --help)\n";
    return 2;
  } catch (const H5::Exception& e) {
    std::cerr << "refinery " << command->name << ": HDF5 error: " << e.getDetailMsg() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::string what = e.what();
    if (std::getenv("REFINERY_DEBUG")) std::cerr << what << "\n";  // the whole message and backtrace
    // LibTorch errors carry a backtrace: keep the first non-empty line.
    what = what.substr(std::min(what.find_first_not_of("\n "), what.size()));
    what = what.substr(0, what.find('\n'));
    std::cerr << "refinery " << command->name << ": internal error: " << what << "\n";
    return 1;
  }
}

}  // namespace refinery::cli
