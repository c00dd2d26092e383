#include "agent/genai/json_reader.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/unit/genai/json_same.h"

namespace infrared::genai {
namespace {

using testing::ParseDifference;

// Texts nlohmann accepts or refuses, each for a reason of its own.
const std::vector<std::string> kTexts = {
    // Plain values and whitespace.
    "null", "true", "false", " \t\r\n{} \n", "[]", "\"\"", "0", "-0", "1", "-1",
    "[1,2,3]", "{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"}}",
    "  [ 1 , { \"a\" : [ ] } , \"x\" ]  ",
    // An SSE chunk of a streamed chat completion.
    R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1694268190,)"
    R"("model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"Hi"},)"
    R"("logprobs":null,"finish_reason":null}],"usage":null})",
    // Numbers: integers at the edges, overflow into double, floats, bad forms.
    "18446744073709551615", "18446744073709551616", "-9223372036854775808",
    "-9223372036854775809", "99999999999999999999999999", "1.5", "-0.0", "1e3", "1E+3",
    "1e-3", "2.5e-400", "1e400", "-1e400", "1e308", std::string(400, '9'), "01", "-01",
    "1.", ".5", "+1", "-", "1e", "1e+", "0x10", "1.0e", "Infinity", "NaN", "[1,]", "[,1]",
    // Strings: escapes, unicode, surrogates, control bytes, bad UTF-8.
    R"("a\"b\\c\/d\be\ff\ng\rh\ti")", R"("\u0041\u00e9\u20AC")", R"("\ud83d\ude00")",
    R"("\u0000")", R"("\ud83d")", R"("\ude00")", R"("\ud83dx")", R"("\ud83d\u0041")",
    R"("\u12")", R"("\u12G4")", R"("\x")", "\"\\", "\"abc", "\"a\tb\"", "\"a\x01\"",
    "\"\x7f\"", "\"\xc3\xa9\"", "\"\xe2\x82\xac\"", "\"\xf0\x9f\x98\x80\"", "\"\xc0\xaf\"",
    "\"\xc1\xbf\"", "\"\xe0\x80\xaf\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"",
    "\"\xf5\x80\x80\x80\"", "\"\xc3\"", "\"\xe2\x82\"", "\"\x80\"", "\"\xff\"",
    // Byte order marks, literals, structure.
    "\xEF\xBB\xBF{\"a\":1}", "\xEF\xBB\xBF  []", "\xEF\xBB{}", "\xEF\xBB\xBF", " \xEF\xBB\xBF{}",
    "tru", "nul", "falsey", "truefalse", "{} {}", "{}x", "{\"a\" 1}", "{\"a\":}", "{a:1}",
    "{\"a\":1,}", "{,}", "[", "{", "]", "}", "", "   ", std::string("{\"a\":1}\0", 8),
    std::string("{\"a\":1} \0x]", 11), std::string("1\0", 2), std::string("[\0]", 3),
    std::string("\0", 1), std::string("\"a\0\"", 4), std::string("tr\0e", 4),
    // Repeated keys: the last wins, whatever its type.
    R"({"a":1,"a":{"b":2}})", R"({"a":{"b":2},"a":3})", R"({"k":[1],"k":[]})",
    // Nesting.
    std::string(10000, '[') + std::string(10000, ']'), std::string(10000, '[') + "1",
    "[[[[{\"a\":[[{}]]}]]]]"};

TEST(JsonReaderTest, AgreesWithNlohmann) {
  for (const std::string& text : kTexts) {
    EXPECT_EQ(ParseDifference(text), "") << text;
  }
}

// Every cut of texts with escapes, unicode and nesting: a stream may end anywhere.
TEST(JsonReaderTest, AgreesWithNlohmannOnEveryPrefixAndFlip) {
  const std::vector<std::string> texts = {
      R"({"id":"x","choices":[{"delta":{"content":"caf\u00e9 \"q\"\n"},"finish_reason":null}],)"
      R"("usage":{"prompt_tokens":12,"completion_tokens":34.5e1,"neg":-7}})",
      "{\"t\":\"\xe2\x82\xac \\ud83d\\ude00\",\"b\":[true,false,null,1e-2,-0]}"};
  for (const std::string& text : texts) {
    for (std::size_t size = 0; size <= text.size(); ++size) {
      const std::string prefix = text.substr(0, size);
      EXPECT_EQ(ParseDifference(prefix), "") << prefix;
    }
    for (std::size_t at = 0; at < text.size(); ++at) {
      for (char replacement : {'"', '\\', ',', '}', ']', '\x80', ' ', '0', 'e'}) {
        std::string flipped = text;
        flipped[at] = replacement;
        EXPECT_EQ(ParseDifference(flipped), "") << flipped;
      }
    }
  }
}

TEST(JsonReaderTest, ReadsValues) {
  JsonDocument document;
  ASSERT_TRUE(document.Parse(R"({"s":"a\nb","n":-3,"u":7,"f":0.5,"o":{"x":true},"a":[1,2]})"));
  const JsonValue& root = document.Root();
  ASSERT_TRUE(root.IsObject());
  EXPECT_EQ(root.Find("s")->Text(), "a\nb");
  EXPECT_EQ(root.Find("n")->Integer(), -3);
  EXPECT_EQ(root.Find("u")->Unsigned(), 7u);
  EXPECT_TRUE(root.Find("u")->IsIntegral());
  EXPECT_DOUBLE_EQ(root.Find("f")->Number(), 0.5);
  EXPECT_TRUE(root.Find("o")->Find("x")->Bool());
  EXPECT_EQ(root.Find("missing"), nullptr);
  EXPECT_EQ(root.Find("s")->Find("x"), nullptr);  // not an object
  int sum = 0;
  for (const JsonValue& element : *root.Find("a")) sum += static_cast<int>(element.Unsigned());
  EXPECT_EQ(sum, 3);
  // Reused for a text that does not parse: the root is null.
  EXPECT_FALSE(document.Parse("{\"a\":"));
  EXPECT_TRUE(document.Root().IsNull());
  EXPECT_FALSE(document.Parsed());
}

TEST(JsonReaderTest, BuildsAnObjectOfMembers) {
  JsonDocument document;
  document.StartObject();
  EXPECT_TRUE(document.Root().IsObject());
  EXPECT_TRUE(document.Root().Empty());
  EXPECT_TRUE(document.AddMember(R"("mo\u0064el")", R"("gpt-4o")"));
  EXPECT_FALSE(document.AddMember(R"("stream")", "tru"));   // the value does not parse
  EXPECT_FALSE(document.AddMember("1", "2"));                // the key is no string
  EXPECT_TRUE(document.AddMember(R"("messages")", R"([{"content":"a\u00e9"}])"));
  EXPECT_TRUE(document.AddMember(R"("model")", R"("gpt-4\u006f-mini")"));  // the last wins
  const JsonValue& root = document.Root();
  EXPECT_EQ(root.Find("model")->Text(), "gpt-4o-mini");
  EXPECT_EQ(root.Find("stream"), nullptr);
  EXPECT_EQ(root.Find("messages")->begin()->Find("content")->Text(), "a\xc3\xa9");
}

}  // namespace
}  // namespace infrared::genai
