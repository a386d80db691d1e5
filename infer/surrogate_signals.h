// The signals of a surrogate's commands (issue 18): the background-only
// workspace, and the signal workspaces of a patchset (every patch, or
// --patch-name) or of --patch files, each with its name. The patchset's
// digest is verified against the workspace unless --skip-digest-check.
#pragma once
#include <string>
#include <vector>

#include <cxxopts.hpp>

#include "src/histfactory/workspace.h"

namespace refinery::cli {

struct SignalWorkspace {
  std::string name;  // the patch's name, or its file
  histfactory::Workspace workspace;
};

// The positional workspace as given (no patch applied).
histfactory::Workspace background_workspace(const cxxopts::ParseResult& r);
// The signal workspaces; empty when neither --patchset nor --patch is given.
std::vector<SignalWorkspace> signal_workspaces(const cxxopts::ParseResult& r);

}  // namespace refinery::cli
