#pragma once

// A read-only JSON document, for reading a few fields of many small hostile
// texts (an SSE chunk per output token) without building a DOM of maps and
// strings: one pass validates the text and lays its values out in one array,
// strings viewed in place unless they hold escapes.
//
// It accepts and rejects exactly the texts nlohmann::json::parse does (RFC
// 8259; strings checked as UTF-8, \u surrogates paired; a leading UTF-8 byte
// order mark skipped; a number out of double's range rejected; a NUL byte after
// the value ends the text), and reads
// numbers as it does: unsigned when non-negative and integral, integer when
// negative and integral, double otherwise or when the integer does not fit.
// Of an object's repeated keys the last wins. tests/unit/genai/json_reader_test.cc
// checks both against nlohmann.

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string_view>
#include <utility>
#include <vector>

namespace infrared::genai {

enum class JsonType : std::uint8_t {
  kNull,
  kBoolean,
  kUnsigned,
  kInteger,
  kFloat,
  kString,
  kArray,
  kObject
};

// One value of a JsonDocument; valid while the document is unchanged and the
// text it was parsed from lives.
class JsonValue {
 public:
  class Iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = JsonValue;
    using difference_type = std::ptrdiff_t;
    using pointer = const JsonValue*;
    using reference = const JsonValue&;

    explicit Iterator(const JsonValue* at = nullptr) : at_(at) {}
    reference operator*() const { return *at_; }
    pointer operator->() const { return at_; }
    Iterator& operator++() {
      at_ = at_->next_;
      return *this;
    }
    bool operator==(const Iterator& other) const { return at_ == other.at_; }

   private:
    const JsonValue* at_;
  };

  JsonType type() const { return type_; }
  bool IsNull() const { return type_ == JsonType::kNull; }
  bool IsBoolean() const { return type_ == JsonType::kBoolean; }
  bool IsString() const { return type_ == JsonType::kString; }
  bool IsArray() const { return type_ == JsonType::kArray; }
  bool IsObject() const { return type_ == JsonType::kObject; }
  bool IsNumber() const {
    return type_ == JsonType::kUnsigned || type_ == JsonType::kInteger || type_ == JsonType::kFloat;
  }
  bool IsUnsigned() const { return type_ == JsonType::kUnsigned; }
  // Unsigned or integer, as nlohmann's is_number_integer.
  bool IsIntegral() const { return type_ == JsonType::kUnsigned || type_ == JsonType::kInteger; }

  bool Bool() const { return boolean_; }
  std::uint64_t Unsigned() const { return unsigned_; }
  // An unsigned value above INT64_MAX wraps, as nlohmann's get<std::int64_t>.
  std::int64_t Integer() const;
  // Any number as a double; 0 for other types.
  double Number() const;
  // A string's value, unescaped; "" for other types.
  std::string_view Text() const { return text_; }

  // Arrays and objects: their elements (members carry their key) in order.
  Iterator begin() const { return Iterator(first_); }
  Iterator end() const { return Iterator(nullptr); }
  bool Empty() const { return first_ == nullptr; }
  // An object's member `key` (the last, when repeated), or nullptr.
  const JsonValue* Find(std::string_view key) const;
  // The key of an object's member; "" for other values.
  std::string_view key() const { return key_; }

 private:
  friend class JsonDocument;
  friend class JsonParser;

  JsonType type_ = JsonType::kNull;
  bool boolean_ = false;
  std::uint64_t unsigned_ = 0;
  std::int64_t integer_ = 0;
  double float_ = 0;
  std::string_view text_;
  std::string_view key_;
  const JsonValue* first_ = nullptr;
  const JsonValue* next_ = nullptr;
  // While parsing: the array grows, so links and unescaped strings are
  // indices and offsets, turned into the pointers above when it is done.
  static constexpr std::uint32_t kNone = ~std::uint32_t{0};
  std::uint32_t first_index_ = kNone;
  std::uint32_t next_index_ = kNone;
  std::uint32_t text_offset_ = kNone;  // into the unescaped bytes, when escaped
  std::uint32_t text_length_ = 0;
  std::uint32_t key_offset_ = kNone;
  std::uint32_t key_length_ = 0;
};

// Values parsed from text. Reuse one document to reuse its memory.
class JsonDocument {
 public:
  JsonDocument() = default;
  JsonDocument(JsonDocument&&) = default;
  JsonDocument& operator=(JsonDocument&&) = default;
  JsonDocument(const JsonDocument&) = delete;
  JsonDocument& operator=(const JsonDocument&) = delete;

  // Replaces the document with `text` parsed; false (and Root() null) when
  // `text` is not one JSON value. `text` must outlive the document's use.
  bool Parse(std::string_view text);
  // Replaces the document with an empty object, for AddMember.
  void StartObject();
  // Adds a member to the object StartObject began, when `key_text` parses as
  // a JSON string and `value_text` as a value (each as Parse would); false
  // otherwise. Both texts must outlive the document's use.
  bool AddMember(std::string_view key_text, std::string_view value_text);

  // The parsed value; a null value when the text did not parse.
  const JsonValue& Root() const;
  bool Parsed() const { return !values_.empty(); }

 private:
  void Link();

  std::vector<JsonValue> values_;
  std::vector<char> unescaped_;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> frames_;  // the parser's, kept for reuse
  std::uint32_t last_member_ = JsonValue::kNone;
};

}  // namespace infrared::genai
