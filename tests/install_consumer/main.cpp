// Downstream consumer used by tests/install_consumer.sh: links the installed library.
#include <iostream>
#include "src/core/version.h"
#include "src/core/hash.h"
int main() { std::cout << refinery::version_banner() << " " << refinery::fnv1a64("x") << "\n"; }
