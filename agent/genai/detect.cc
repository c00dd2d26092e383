#include "agent/genai/detect.h"

#include <array>
#include <cstddef>

namespace infrared::genai {
namespace {

using protocols::http1::EqualsIgnoreCase;
using protocols::http1::FindHeader;
using protocols::http1::Header;

constexpr std::string_view kOpenAiCompatible = "openai_compatible";

// Path endings that name an API whatever prefix a server or gateway puts in
// front (/v1, /openai/v1, /api/v1, ...). First match wins, so the longer of
// two overlapping endings comes first.
struct PathShape {
  std::string_view suffix;
  Api api;
  std::string_view operation;
};
constexpr std::array kPathShapes = {
    PathShape{"/api/chat", Api::kOllamaChat, "chat"},
    PathShape{"/api/generate", Api::kOllamaGenerate, "text_completion"},
    PathShape{"/api/embed", Api::kOllamaEmbed, "embeddings"},
    PathShape{"/api/embeddings", Api::kOllamaEmbed, "embeddings"},
    // Only the /v1 form: OpenAI's /threads/{id}/messages is no model call.
    PathShape{"/v1/messages", Api::kAnthropicMessages, "chat"},
    PathShape{"/chat/completions", Api::kOpenAiChatCompletions, "chat"},
    PathShape{"/completions", Api::kOpenAiCompletions, "text_completion"},
    PathShape{"/embeddings", Api::kOpenAiEmbeddings, "embeddings"},
    PathShape{"/responses", Api::kOpenAiResponses, "chat"},
};

// Gemini names the method after the model: .../models/{model}:{method}.
struct GeminiMethod {
  std::string_view method;
  Api api;
  std::string_view operation;
};
constexpr std::array kGeminiMethods = {
    GeminiMethod{"generateContent", Api::kGeminiGenerate, "generate_content"},
    GeminiMethod{"streamGenerateContent", Api::kGeminiStream, "generate_content"},
    GeminiMethod{"embedContent", Api::kGeminiEmbed, "embeddings"},
    GeminiMethod{"batchEmbedContents", Api::kGeminiEmbed, "embeddings"},
};

// Well-known provider hosts. `regional` also accepts "{prefix}.host" and
// "{prefix}-host": Azure resources, Vertex regions, OpenAI data residency.
struct ProviderHost {
  std::string_view host;
  std::string_view provider;
  bool regional;
};
constexpr std::array kProviderHosts = {
    ProviderHost{"api.openai.com", "openai", true},
    ProviderHost{"api.anthropic.com", "anthropic", false},
    ProviderHost{"generativelanguage.googleapis.com", "gcp.gemini", false},
    ProviderHost{"openai.azure.com", "azure.ai.openai", true},
    ProviderHost{"cognitiveservices.azure.com", "azure.ai.openai", true},
    ProviderHost{"aiplatform.googleapis.com", "gcp.vertex_ai", true},
    ProviderHost{"api.deepseek.com", "deepseek", false},
    ProviderHost{"api.groq.com", "groq", false},
    ProviderHost{"api.mistral.ai", "mistral_ai", false},
    ProviderHost{"api.x.ai", "x_ai", false},
    ProviderHost{"api.perplexity.ai", "perplexity", false},
};

constexpr std::string_view kOllamaPort = "11434";
constexpr std::string_view kAzureDeployments = "/openai/deployments/";

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// A Host header split into a lower-case name (no trailing dot) and a port.
struct HostParts {
  std::string name;
  std::string port;
};

HostParts SplitHost(std::string_view host) {
  std::string_view name = host;
  std::string_view port;
  if (!host.empty() && host.front() == '[') {  // [v6]:port
    const std::size_t close = host.find(']');
    if (close != std::string_view::npos) {
      name = host.substr(0, close + 1);
      if (close + 1 < host.size() && host[close + 1] == ':') port = host.substr(close + 2);
    }
  } else if (const std::size_t colon = host.rfind(':'); colon != std::string_view::npos) {
    name = host.substr(0, colon);
    port = host.substr(colon + 1);
  }
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  return HostParts{Lower(name), std::string(port)};
}

// The path of a request target: no query or fragment, and for the absolute
// form ("http://host/path") no scheme or authority, which goes to `authority`.
std::string_view PathOf(std::string_view target, std::string_view& authority) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (target.size() >= scheme.size() &&
        EqualsIgnoreCase(target.substr(0, scheme.size()), scheme)) {
      target.remove_prefix(scheme.size());
      const std::size_t end = target.find_first_of("/?#");
      authority = target.substr(0, end);
      target = end == std::string_view::npos ? std::string_view{} : target.substr(end);
      break;
    }
  }
  target = target.substr(0, target.find_first_of("?#"));
  if (target.size() > 1 && target.back() == '/') target.remove_suffix(1);
  return target;
}

std::optional<CallShape> GeminiShape(std::string_view path) {
  const std::size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const std::string_view segment = path.substr(slash + 1);
  const std::size_t colon = segment.find(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  const std::string_view parent = path.substr(0, slash);
  if (!parent.ends_with("/models") && !parent.ends_with("/tunedModels")) return std::nullopt;
  for (const GeminiMethod& method : kGeminiMethods) {
    if (segment.substr(colon + 1) == method.method) {
      return CallShape{method.api, "", std::string(method.operation),
                       std::string(segment.substr(0, colon))};
    }
  }
  return std::nullopt;
}

std::optional<CallShape> ShapeOfPath(std::string_view path) {
  if (std::optional<CallShape> gemini = GeminiShape(path)) return gemini;
  for (const PathShape& shape : kPathShapes) {
    if (path.ends_with(shape.suffix)) {
      return CallShape{shape.api, "", std::string(shape.operation), ""};
    }
  }
  return std::nullopt;
}

// The deployment an Azure OpenAI path names (/openai/deployments/{name}/...).
std::string_view AzureDeployment(std::string_view path) {
  const std::size_t at = path.find(kAzureDeployments);
  if (at == std::string_view::npos) return {};
  const std::string_view rest = path.substr(at + kAzureDeployments.size());
  return rest.substr(0, rest.find('/'));
}

std::optional<std::string> GatewayProvider(const HostParts& host, const Gateways& gateways) {
  for (const auto& [gateway_host, provider] : gateways.hosts) {
    const HostParts gateway = SplitHost(gateway_host);
    if (gateway.name == host.name && (gateway.port.empty() || gateway.port == host.port)) {
      return provider;
    }
  }
  return std::nullopt;
}

std::optional<std::string_view> KnownHostProvider(std::string_view name) {
  for (const ProviderHost& entry : kProviderHosts) {
    if (name == entry.host) return entry.provider;
    if (entry.regional && name.size() > entry.host.size() && name.ends_with(entry.host)) {
      const char before = name[name.size() - entry.host.size() - 1];
      if (before == '.' || before == '-') return entry.provider;
    }
  }
  return std::nullopt;
}

bool IsOllamaApi(Api api) {
  return api == Api::kOllamaChat || api == Api::kOllamaGenerate || api == Api::kOllamaEmbed;
}

bool IsGeminiApi(Api api) {
  return api == Api::kGeminiGenerate || api == Api::kGeminiStream || api == Api::kGeminiEmbed;
}

std::string ProviderOf(const CallShape& shape, const HostParts& host,
                       const std::vector<Header>& headers, const Gateways& gateways,
                       bool azure_path) {
  if (std::optional<std::string> gateway = GatewayProvider(host, gateways)) return *gateway;
  if (std::optional<std::string_view> known = KnownHostProvider(host.name)) {
    return std::string(*known);
  }
  if (azure_path) return "azure.ai.openai";
  if (!FindHeader(headers, "anthropic-version").empty() || shape.api == Api::kAnthropicMessages) {
    return "anthropic";
  }
  if (!FindHeader(headers, "x-goog-api-key").empty() || IsGeminiApi(shape.api)) {
    return "gcp.gemini";
  }
  if (IsOllamaApi(shape.api) || host.port == kOllamaPort) return "ollama";
  return std::string(kOpenAiCompatible);
}

}  // namespace

std::optional<CallShape> DetectCall(std::string_view method, std::string_view target,
                                    std::string_view host,
                                    const std::vector<Header>& request_headers,
                                    const Gateways& gateways) {
  if (method != "POST") return std::nullopt;
  std::string_view authority;
  const std::string_view path = PathOf(target, authority);
  std::optional<CallShape> shape = ShapeOfPath(path);
  if (!shape) return std::nullopt;
  const std::string_view deployment = AzureDeployment(path);
  if (!deployment.empty() && shape->path_model.empty()) shape->path_model = deployment;
  const HostParts host_parts = SplitHost(host.empty() ? authority : host);
  shape->provider = ProviderOf(*shape, host_parts, request_headers, gateways, !deployment.empty());
  return shape;
}

void RefineWithResponse(CallShape& shape, const std::vector<Header>& response_headers) {
  if (shape.provider != kOpenAiCompatible) return;
  for (const Header& header : response_headers) {
    const std::string name = Lower(header.name);
    if (name == "openai-organization" || name == "openai-processing-ms" ||
        name == "openai-version") {
      shape.provider = "openai";
      return;
    }
    if (name.starts_with("anthropic-ratelimit-")) {
      shape.provider = "anthropic";
      return;
    }
  }
}

}  // namespace infrared::genai
