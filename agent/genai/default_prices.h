#pragma once

#include <string_view>

namespace infrared::genai {

// The price table shipped with infrared (deploy/genai/prices.yaml), compiled into the
// binary so the agent prices calls wherever it runs from. The definition is generated
// at build time from that file.
std::string_view DefaultPricesYaml();

}  // namespace infrared::genai
