#include <algorithm>
#include <cstring>
#include <cxxopts.hpp>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "src/cli/command.h"
#include "src/core/error.h"

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
    name.resize(std::max<std::size_t>(name.size() + 2, 18), ' ');
    os << "  " << name << c.summary << "\n";
  }
  os << "\nCommon options: --config FILE, --threads N, --seed S, --out PATH, --quiet\n"
        "Exit codes: 0 success, 2 usage or input error, 1 internal failure.\n";
}

// "--flag: 'value' is not a valid value for this option" from cxxopts'
// message and the arguments (the flag is the one the value was given to:
// "--flag value" or "--flag=value").
std::string unparsable_value_message(const std::string& what, const std::vector<char*>& args) {
  const std::string head = "Argument ", tail = " failed to parse";
  std::string value = what;
  if (what.rfind(head, 0) == 0 && what.size() > head.size() + tail.size() &&
      what.compare(what.size() - tail.size(), tail.size(), tail) == 0)
    value = what.substr(head.size(), what.size() - head.size() - tail.size());
  // Strip the quotes (ASCII or the typographic ones cxxopts may use).
  for (const std::string q : {"'", "\u2018", "\u2019"}) {
    if (value.rfind(q, 0) == 0) value.erase(0, q.size());
    if (value.size() >= q.size() && value.compare(value.size() - q.size(), q.size(), q) == 0)
      value.erase(value.size() - q.size());
  }
  std::string flag;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string a = args[i];
    const std::size_t eq = a.find('=');
    if (a.rfind("-", 0) == 0 && eq != std::string::npos && a.substr(eq + 1) == value) flag = a.substr(0, eq);
    else if (a == value && i > 1 && std::string(args[i - 1]).rfind("-", 0) == 0) flag = args[i - 1];
    if (!flag.empty()) break;
  }
  if (flag.empty()) return "'" + value + "' is not a valid value for its option";
  return flag + ": '" + value + "' is not a valid value for this option";
}

const Command* find_command(const std::string& name) {
  for (const auto& c : commands())
    if (c.name == name) return &c;
  return nullptr;
}

// The sub-command names of a group ("train" -> classifier, dcr, sannt).
std::vector<std::string> group_members(const std::string& group) {
  std::vector<std::string> subs;
  for (const auto& c : commands())
    if (c.name.rfind(group + " ", 0) == 0) subs.push_back(c.name.substr(group.size() + 1));
  return subs;
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
  const Command* command = find_command(first);
  if (!command) {
    const std::vector<std::string> subs = group_members(first);
    if (subs.empty()) {
      std::cerr << "refinery: error: unknown command '" << first << "' (see refinery --help)\n";
      return 2;
    }
    // A group: `refinery GROUP SUB ...` runs the command "GROUP SUB" with
    // argv {"refinery GROUP", SUB, ...}.
    const std::string sub = argc > 2 ? argv[2] : "";
    if (sub == "-h" || sub == "--help") {
      std::cout << "Usage: refinery " << first << " WHAT [options]\n";
      for (const auto& name : subs) {
        std::string padded = name;
        padded.resize(std::max<std::size_t>(name.size() + 2, 12), ' ');
        std::cout << "  " << padded << find_command(first + " " + name)->summary << "\n";
      }
      std::cout << "(refinery " << first << " WHAT --help for the options)\n";
      return 0;
    }
    command = find_command(first + " " + sub);
    if (!command) {
      std::string known;
      for (std::size_t i = 0; i < subs.size(); ++i)
        known += (i == 0 ? "" : i + 1 == subs.size() ? " or " : ", ") + ("'" + subs[i] + "'");
      std::cerr << "refinery " << first << ": error: WHAT: " << first << " what? " << known << ", got '" << sub << "'\n";
      return 2;
    }
  }
  std::string program = std::string("refinery ") + first;
  std::vector<char*> args;
  args.push_back(program.data());
  for (int i = 2; i < argc; ++i) args.push_back(argv[i]);
  try {
    return command->run(static_cast<int>(args.size()), args.data());
  } catch (const InputError& e) {
    std::cerr << "refinery " << first << ": error: " << e.what() << "\n";
    return 2;
  } catch (const cxxopts::exceptions::incorrect_argument_type& e) {
    // cxxopts names the value only ("Argument 'abc' failed to parse"): name
    // the flag it was given to.
    std::cerr << "refinery " << first << ": usage error: " << unparsable_value_message(e.what(), args)
              << " (see refinery " << first << " --help)\n";
    return 2;
  } catch (const cxxopts::exceptions::exception& e) {
    std::cerr << "refinery " << first << ": usage error: " << e.what()
              << " (see refinery " << first << " --help)\n";
    return 2;
  } catch (const std::exception& e) {
    std::string what = e.what();
    if (std::getenv("REFINERY_DEBUG")) std::cerr << what << "\n";  // the whole message and backtrace
    // LibTorch errors carry a backtrace: keep the first non-empty line.
    what = what.substr(std::min(what.find_first_not_of("\n "), what.size()));
    what = what.substr(0, what.find('\n'));
    std::cerr << "refinery " << first << ": internal error: " << what << "\n";
    return 1;
  }
}

}  // namespace refinery::cli
