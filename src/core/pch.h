// Precompiled header of the library: the heavy, stable third-party headers.
#pragma once
#include <torch/torch.h>
#include <nlohmann/json.hpp>
#include <H5Cpp.h>
#include <string>
#include <vector>
