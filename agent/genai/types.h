#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace infrared::genai {

// The API shape of a call: which request and response bodies to expect.
enum class Api {
  kOpenAiChatCompletions,  // POST .../chat/completions
  kOpenAiResponses,        // POST .../responses
  kOpenAiCompletions,      // POST .../completions (legacy text completions)
  kOpenAiEmbeddings,       // POST .../embeddings
  kAnthropicMessages,      // POST .../v1/messages
  kGeminiGenerate,         // POST .../models/{model}:generateContent
  kGeminiStream,           // POST .../models/{model}:streamGenerateContent (?alt=sse)
  kGeminiEmbed,            // POST .../models/{model}:embedContent / batchEmbedContents
  kOllamaChat,             // POST /api/chat (NDJSON stream unless "stream": false)
  kOllamaGenerate,         // POST /api/generate
  kOllamaEmbed,            // POST /api/embed, /api/embeddings
};

// A stable name for logs and tests: "openai_chat_completions", ...
const char* ApiName(Api api);

// What the request line, headers and host say, before any body is read.
struct CallShape {
  Api api = Api::kOpenAiChatCompletions;
  // gen_ai.provider.name: openai, anthropic, gcp.gemini, azure.ai.openai, ollama,
  // openai_compatible (any other server speaking an OpenAI shape), or the name
  // an operator gave a gateway.
  std::string provider;
  // gen_ai.operation.name: chat, text_completion, embeddings, generate_content.
  std::string operation;
  // A model the path names (Gemini's models/{model}, Azure's deployment), else empty.
  std::string path_model;
};

// Token counts as the provider reported them, already normalised to the
// semantic conventions: input includes cached and cache-creation tokens.
struct Usage {
  std::optional<std::uint64_t> input_tokens;
  std::optional<std::uint64_t> output_tokens;
  std::optional<std::uint64_t> cache_read_tokens;      // part of input_tokens
  std::optional<std::uint64_t> cache_creation_tokens;  // part of input_tokens
  std::optional<std::uint64_t> reasoning_tokens;       // part of output_tokens
};

// What the request body says (any field may be missing: the body may be cut).
struct RequestFacts {
  std::string model;
  bool stream = false;
  std::optional<std::int64_t> max_tokens;
  std::optional<double> temperature;
  std::optional<double> top_p;
  // Only filled when content capture is on: the messages/input as JSON text.
  std::string input_messages;
};

// What the response (a JSON body, or the events of a stream) says.
struct ResponseFacts {
  std::string id;
  std::string model;
  std::vector<std::string> finish_reasons;
  Usage usage;
  // The provider's error type ("rate_limit_error", "overloaded_error",
  // "insufficient_quota", ...) from an error body or an error event.
  std::string error_type;
  // A stream that ended without its final event ([DONE], message_stop,
  // response.completed, done:true, ...).
  bool stream_incomplete = false;
  // Only filled when content capture is on: the output text / messages.
  std::string output_messages;
};

}  // namespace infrared::genai
