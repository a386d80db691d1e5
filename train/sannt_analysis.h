// A binned analysis (data/sannt_analyses.h) as a SANNT problem: its samples
// split by process into SANNT's training samples, its template model as is.
#pragma once
#include "data/sannt_analyses.h"
#include "train/sannt_inferno.h"

namespace refinery {

SanntProblem sannt_problem(const SanntAnalysis& analysis);

}  // namespace refinery
