// A core file that breaks both layer rules (tests/CMakeLists.txt: the
// checker must refuse it).
#include "infer/measurement.h"

int run_fit(int argc, char** argv);
