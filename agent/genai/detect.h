#pragma once

// Which LLM API a request is, and which provider serves it, from the request
// line, the Host header and the request headers alone (no body).

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/genai/types.h"
#include "agent/protocols/http1/types.h"

namespace infrared::genai {

// Hosts the operator named as gateways: each proxies OpenAI-shaped (or other
// known-shaped) calls and is reported with the provider name given for it.
struct Gateways {
  // {host, provider name}. A host without a port matches on any port; a host
  // with one ("gw.internal:8080") only on that port. Case does not matter.
  std::vector<std::pair<std::string, std::string>> hosts;
};

// The shape of a call when `method` and `target` (path and query, or the
// absolute form) name a known LLM API, else nullopt. Only POST calls are LLM
// calls. `host` is the Host header, maybe with ":port"; it may be empty.
//
// The provider is decided by, in order: an operator gateway; a well-known
// provider host; an Azure deployments path; an `anthropic-version` header or
// the Anthropic Messages path; an `x-goog-api-key` header or a Gemini path; an
// Ollama path or port 11434; and otherwise "openai_compatible".
std::optional<CallShape> DetectCall(std::string_view method, std::string_view target,
                                    std::string_view host,
                                    const std::vector<protocols::http1::Header>& request_headers,
                                    const Gateways& gateways);

// Sharpens the provider with what the response headers say: an
// "openai_compatible" call answered with OpenAI's own headers
// (openai-organization, openai-processing-ms, openai-version) is "openai", and
// one answered with Anthropic's rate-limit headers is "anthropic". A provider
// already known (by host, gateway, header or path) is never changed.
void RefineWithResponse(CallShape& shape,
                        const std::vector<protocols::http1::Header>& response_headers);

}  // namespace infrared::genai
