#include "agent/genai/types.h"

namespace infrared::genai {

const char* ApiName(Api api) {
  switch (api) {
    case Api::kOpenAiChatCompletions:
      return "openai_chat_completions";
    case Api::kOpenAiResponses:
      return "openai_responses";
    case Api::kOpenAiCompletions:
      return "openai_completions";
    case Api::kOpenAiEmbeddings:
      return "openai_embeddings";
    case Api::kAnthropicMessages:
      return "anthropic_messages";
    case Api::kGeminiGenerate:
      return "gemini_generate_content";
    case Api::kGeminiStream:
      return "gemini_stream_generate_content";
    case Api::kGeminiEmbed:
      return "gemini_embed_content";
    case Api::kOllamaChat:
      return "ollama_chat";
    case Api::kOllamaGenerate:
      return "ollama_generate";
    case Api::kOllamaEmbed:
      return "ollama_embed";
  }
  return "unknown";
}

}  // namespace infrared::genai
