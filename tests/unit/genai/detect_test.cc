#include "agent/genai/detect.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace infrared::genai {
namespace {

using protocols::http1::Header;

// The expected shape, or api == nullopt for "not an LLM call".
struct DetectCase {
  const char* name;
  const char* method;
  const char* target;
  const char* host;
  std::vector<Header> headers;
  std::optional<Api> api;
  const char* provider = "";
  const char* operation = "";
  const char* path_model = "";
};

Gateways TestGateways() {
  return Gateways{{{"llm-gateway.internal", "corp_gateway"}, {"LiteLLM.svc:4000", "litellm"}}};
}

class DetectCallTest : public ::testing::TestWithParam<DetectCase> {};

TEST_P(DetectCallTest, Shape) {
  const DetectCase& c = GetParam();
  const std::optional<CallShape> shape =
      DetectCall(c.method, c.target, c.host, c.headers, TestGateways());
  ASSERT_EQ(shape.has_value(), c.api.has_value());
  if (!shape) return;
  EXPECT_EQ(ApiName(shape->api), std::string(ApiName(*c.api)));
  EXPECT_EQ(shape->provider, c.provider);
  EXPECT_EQ(shape->operation, c.operation);
  EXPECT_EQ(shape->path_model, c.path_model);
}

constexpr Api kChat = Api::kOpenAiChatCompletions;

// clang-format off
INSTANTIATE_TEST_SUITE_P(
    Table, DetectCallTest,
    ::testing::Values(
        // OpenAI's shapes and their prefixes.
        DetectCase{"openai_chat", "POST", "/v1/chat/completions", "api.openai.com", {}, kChat,
                   "openai", "chat"},
        DetectCase{"openai_port_query", "POST", "/v1/chat/completions?x=1", "api.openai.com:443",
                   {}, kChat, "openai", "chat"},
        DetectCase{"openai_host_case_dot", "POST", "/v1/chat/completions", "API.OpenAI.com.", {},
                   kChat, "openai", "chat"},
        DetectCase{"openai_data_residency", "POST", "/v1/responses", "eu.api.openai.com", {},
                   Api::kOpenAiResponses, "openai", "chat"},
        DetectCase{"openai_get_is_no_call", "GET", "/v1/chat/completions", "api.openai.com", {},
                   std::nullopt},
        DetectCase{"lower_case_method", "post", "/v1/chat/completions", "api.openai.com", {},
                   std::nullopt},
        DetectCase{"responses", "POST", "/v1/responses", "api.openai.com", {},
                   Api::kOpenAiResponses, "openai", "chat"},
        DetectCase{"responses_cancel", "POST", "/v1/responses/resp_123/cancel", "api.openai.com",
                   {}, std::nullopt},
        DetectCase{"completions", "POST", "/v1/completions", "localhost:8000", {},
                   Api::kOpenAiCompletions, "openai_compatible", "text_completion"},
        DetectCase{"embeddings", "POST", "/v1/embeddings", "api.openai.com", {},
                   Api::kOpenAiEmbeddings, "openai", "embeddings"},
        DetectCase{"trailing_slash", "POST", "/v1/chat/completions/", "api.openai.com", {}, kChat,
                   "openai", "chat"},
        DetectCase{"absolute_form", "POST", "http://api.openai.com/v1/chat/completions?a=b", "",
                   {}, kChat, "openai", "chat"},
        DetectCase{"assistants_message", "POST", "/v1/threads/thread_1/messages",
                   "api.openai.com", {}, std::nullopt},
        DetectCase{"models_list", "POST", "/v1/models", "api.openai.com", {}, std::nullopt},
        DetectCase{"empty_target", "POST", "", "api.openai.com", {}, std::nullopt},
        DetectCase{"asterisk", "POST", "*", "", {}, std::nullopt},
        DetectCase{"openrouter", "POST", "/api/v1/chat/completions", "openrouter.ai", {}, kChat,
                   "openai_compatible", "chat"},
        DetectCase{"vllm", "POST", "/v1/chat/completions", "10.0.0.7:8000", {}, kChat,
                   "openai_compatible", "chat"},
        // Other providers' OpenAI-compatible endpoints, named by host.
        DetectCase{"deepseek", "POST", "/chat/completions", "api.deepseek.com", {}, kChat,
                   "deepseek", "chat"},
        DetectCase{"groq", "POST", "/openai/v1/chat/completions", "api.groq.com", {}, kChat,
                   "groq", "chat"},
        DetectCase{"mistral", "POST", "/v1/embeddings", "api.mistral.ai", {},
                   Api::kOpenAiEmbeddings, "mistral_ai", "embeddings"},
        DetectCase{"xai", "POST", "/v1/chat/completions", "api.x.ai", {}, kChat, "x_ai", "chat"},
        DetectCase{"perplexity", "POST", "/chat/completions", "api.perplexity.ai", {}, kChat,
                   "perplexity", "chat"},
        DetectCase{"gemini_openai_compat", "POST", "/v1beta/openai/chat/completions",
                   "generativelanguage.googleapis.com", {}, kChat, "gcp.gemini", "chat"},
        DetectCase{"not_a_subdomain", "POST", "/v1/chat/completions", "notapi.openai.com.evil",
                   {}, kChat, "openai_compatible", "chat"},
        // Anthropic.
        DetectCase{"anthropic", "POST", "/v1/messages", "api.anthropic.com",
                   {{"anthropic-version", "2023-06-01"}}, Api::kAnthropicMessages, "anthropic",
                   "chat"},
        DetectCase{"anthropic_count_tokens", "POST", "/v1/messages/count_tokens",
                   "api.anthropic.com", {}, std::nullopt},
        DetectCase{"anthropic_via_proxy", "POST", "/anthropic/v1/messages", "proxy:9000",
                   {{"Anthropic-Version", "2023-06-01"}}, Api::kAnthropicMessages, "anthropic",
                   "chat"},
        DetectCase{"anthropic_header_on_openai_shape", "POST", "/v1/chat/completions",
                   "proxy:9000", {{"anthropic-version", "2023-06-01"}}, kChat, "anthropic",
                   "chat"},
        // Gemini and Vertex AI.
        DetectCase{"gemini_generate", "POST", "/v1beta/models/gemini-2.0-flash:generateContent",
                   "generativelanguage.googleapis.com", {}, Api::kGeminiGenerate, "gcp.gemini",
                   "generate_content", "gemini-2.0-flash"},
        DetectCase{"gemini_stream", "POST",
                   "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse",
                   "generativelanguage.googleapis.com", {}, Api::kGeminiStream, "gcp.gemini",
                   "generate_content", "gemini-2.5-pro"},
        DetectCase{"gemini_embed", "POST", "/v1beta/models/text-embedding-004:embedContent",
                   "generativelanguage.googleapis.com", {}, Api::kGeminiEmbed, "gcp.gemini",
                   "embeddings", "text-embedding-004"},
        DetectCase{"gemini_batch_embed", "POST",
                   "/v1beta/models/gemini-embedding-001:batchEmbedContents",
                   "generativelanguage.googleapis.com", {}, Api::kGeminiEmbed, "gcp.gemini",
                   "embeddings", "gemini-embedding-001"},
        DetectCase{"gemini_count_tokens", "POST", "/v1beta/models/gemini-2.0-flash:countTokens",
                   "generativelanguage.googleapis.com", {}, std::nullopt},
        DetectCase{"gemini_no_model", "POST", "/v1beta/models/:generateContent",
                   "generativelanguage.googleapis.com", {}, std::nullopt},
        DetectCase{"gemini_path_unknown_host", "POST",
                   "/v1beta/models/gemini-2.0-flash:generateContent", "127.0.0.1:8080", {},
                   Api::kGeminiGenerate, "gcp.gemini", "generate_content", "gemini-2.0-flash"},
        DetectCase{"goog_key_header", "POST", "/v1beta/openai/chat/completions", "proxy:9000",
                   {{"x-goog-api-key", "[REDACTED]"}}, kChat, "gcp.gemini", "chat"},
        DetectCase{"vertex_regional", "POST",
                   "/v1/projects/p1/locations/us-central1/publishers/google/models/"
                   "gemini-2.0-flash-001:streamGenerateContent?alt=sse",
                   "us-central1-aiplatform.googleapis.com", {}, Api::kGeminiStream,
                   "gcp.vertex_ai", "generate_content", "gemini-2.0-flash-001"},
        DetectCase{"vertex_global", "POST",
                   "/v1/projects/p1/locations/global/publishers/google/models/"
                   "gemini-2.5-flash:generateContent",
                   "aiplatform.googleapis.com", {}, Api::kGeminiGenerate, "gcp.vertex_ai",
                   "generate_content", "gemini-2.5-flash"},
        // Ollama.
        DetectCase{"ollama_chat", "POST", "/api/chat", "localhost:11434", {}, Api::kOllamaChat,
                   "ollama", "chat"},
        DetectCase{"ollama_generate", "POST", "/api/generate", "127.0.0.1:11434", {},
                   Api::kOllamaGenerate, "ollama", "text_completion"},
        DetectCase{"ollama_embed", "POST", "/api/embed", "ollama", {}, Api::kOllamaEmbed,
                   "ollama", "embeddings"},
        DetectCase{"ollama_embeddings", "POST", "/api/embeddings", "ollama:80", {},
                   Api::kOllamaEmbed, "ollama", "embeddings"},
        DetectCase{"ollama_openai_compat", "POST", "/v1/chat/completions", "localhost:11434", {},
                   kChat, "ollama", "chat"},
        DetectCase{"ollama_ipv6", "POST", "/v1/completions", "[::1]:11434", {},
                   Api::kOpenAiCompletions, "ollama", "text_completion"},
        DetectCase{"ollama_tags", "POST", "/api/tags", "localhost:11434", {}, std::nullopt},
        // Azure OpenAI.
        DetectCase{"azure_deployment", "POST",
                   "/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21",
                   "myres.openai.azure.com", {}, kChat, "azure.ai.openai", "chat", "gpt-4o-prod"},
        DetectCase{"azure_embeddings", "POST",
                   "/openai/deployments/embed-small/embeddings?api-version=2024-10-21",
                   "myres.cognitiveservices.azure.com", {}, Api::kOpenAiEmbeddings,
                   "azure.ai.openai", "embeddings", "embed-small"},
        DetectCase{"azure_v1", "POST", "/openai/v1/chat/completions", "myres.openai.azure.com",
                   {}, kChat, "azure.ai.openai", "chat"},
        DetectCase{"azure_path_via_proxy", "POST",
                   "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21",
                   "egress-proxy:3128", {}, kChat, "azure.ai.openai", "chat", "gpt-4o"},
        // Operator gateways win over everything else.
        DetectCase{"gateway_any_port", "POST", "/v1/chat/completions",
                   "LLM-Gateway.internal:8443", {}, kChat, "corp_gateway", "chat"},
        DetectCase{"gateway_anthropic_shape", "POST", "/v1/messages", "llm-gateway.internal",
                   {{"anthropic-version", "2023-06-01"}}, Api::kAnthropicMessages,
                   "corp_gateway", "chat"},
        DetectCase{"gateway_port_match", "POST", "/v1/chat/completions", "litellm.svc:4000", {},
                   kChat, "litellm", "chat"},
        DetectCase{"gateway_port_mismatch", "POST", "/v1/chat/completions", "litellm.svc:4001",
                   {}, kChat, "openai_compatible", "chat"}),
    [](const auto& param) { return std::string(param.param.name); });
// clang-format on

struct RefineCase {
  const char* name;
  Api api;
  const char* provider;
  std::vector<Header> response_headers;
  const char* refined;
};

class RefineWithResponseTest : public ::testing::TestWithParam<RefineCase> {};

TEST_P(RefineWithResponseTest, Provider) {
  const RefineCase& c = GetParam();
  CallShape shape{c.api, c.provider, "chat", ""};
  RefineWithResponse(shape, c.response_headers);
  EXPECT_EQ(shape.provider, c.refined);
}

// clang-format off
INSTANTIATE_TEST_SUITE_P(
    Table, RefineWithResponseTest,
    ::testing::Values(
        RefineCase{"openai_headers", Api::kOpenAiChatCompletions, "openai_compatible",
                   {{"Content-Type", "application/json"}, {"OpenAI-Processing-Ms", "412"}},
                   "openai"},
        RefineCase{"openai_organization", Api::kOpenAiResponses, "openai_compatible",
                   {{"openai-organization", "user-abc"}}, "openai"},
        RefineCase{"openai_version", Api::kOpenAiEmbeddings, "openai_compatible",
                   {{"openai-version", "2020-10-01"}}, "openai"},
        RefineCase{"anthropic_rate_limits", Api::kOpenAiChatCompletions, "openai_compatible",
                   {{"anthropic-ratelimit-requests-limit", "4000"}}, "anthropic"},
        RefineCase{"no_vendor_headers", Api::kOpenAiChatCompletions, "openai_compatible",
                   {{"server", "uvicorn"}, {"request-id", "req_1"}}, "openai_compatible"},
        RefineCase{"anthropic_kept", Api::kAnthropicMessages, "anthropic",
                   {{"request-id", "req_011"}, {"anthropic-ratelimit-tokens-remaining", "1"}},
                   "anthropic"},
        RefineCase{"known_provider_kept", Api::kOpenAiChatCompletions, "groq",
                   {{"openai-processing-ms", "5"}}, "groq"},
        RefineCase{"gateway_kept", Api::kOpenAiChatCompletions, "corp_gateway",
                   {{"openai-organization", "org"}}, "corp_gateway"}),
    [](const auto& param) { return std::string(param.param.name); });
// clang-format on

}  // namespace
}  // namespace infrared::genai
