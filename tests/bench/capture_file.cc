#include "tests/bench/capture_file.h"

#include <fstream>
#include <iterator>

namespace infrared::bench {
namespace {

void PutU32(unsigned char* out, std::uint32_t value) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<unsigned char>(value >> (8 * i));
}

std::uint32_t GetU32(const unsigned char* in) {
  std::uint32_t value = 0;
  for (int i = 0; i < 4; ++i) value |= std::uint32_t{in[i]} << (8 * i);
  return value;
}

}  // namespace

std::optional<Capture> Capture::Load(const std::string& path, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot open the capture " + path +
            ": give an existing file (infrared_make_capture writes one)";
    return std::nullopt;
  }
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Capture capture;
  capture.bytes_ = text.size();
  capture.words_.resize((text.size() + 7) / 8);
  std::memcpy(capture.words_.data(), text.data(), text.size());
  const auto* base = reinterpret_cast<const unsigned char*>(capture.words_.data());
  if (text.size() < kCaptureHeaderBytes ||
      std::memcmp(base, kCaptureMagic, sizeof(kCaptureMagic))) {
    error = path + " is not an infrared capture (its first bytes are not IRCAP\\0\\1\\0)";
    return std::nullopt;
  }
  const std::uint32_t declared = GetU32(base + 8);
  std::size_t at = kCaptureHeaderBytes;
  while (at < text.size()) {
    if (at + kRecordHeaderBytes > text.size()) break;
    const std::uint32_t size = GetU32(base + at) & ~(kBusyBit | kDiscardBit);
    if (at + kRecordHeaderBytes + size > text.size()) break;
    ++capture.records_;
    capture.record_bytes_ += size;
    at += (kRecordHeaderBytes + size + 7) & ~std::size_t{7};
  }
  if (at < text.size() || capture.records_ != declared) {
    error = path + " is cut short or damaged: its header declares " + std::to_string(declared) +
            " records, " + std::to_string(capture.records_) + " are whole";
    return std::nullopt;
  }
  return capture;
}

std::optional<CaptureWriter> CaptureWriter::Create(const std::string& path, std::string& error) {
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (!file) {
    error =
        "cannot create the capture file " + path + ": check the directory exists and is writable";
    return std::nullopt;
  }
  CaptureWriter writer(file);
  unsigned char header[kCaptureHeaderBytes] = {};
  std::memcpy(header, kCaptureMagic, sizeof(kCaptureMagic));
  writer.failed_ = std::fwrite(header, sizeof(header), 1, file) != 1;
  return writer;
}

CaptureWriter::CaptureWriter(CaptureWriter&& other) noexcept
    : file_(other.file_), records_(other.records_), failed_(other.failed_) {
  other.file_ = nullptr;
}

CaptureWriter::~CaptureWriter() {
  if (file_) std::fclose(file_);
}

bool CaptureWriter::Append(const void* data, std::size_t size) {
  if (!file_ || size > (kDiscardBit - 1)) return false;
  unsigned char header[kRecordHeaderBytes] = {};
  PutU32(header, static_cast<std::uint32_t>(size));
  static constexpr unsigned char kPadding[8] = {};
  const std::size_t padding = (8 - size % 8) % 8;
  bool ok = std::fwrite(header, sizeof(header), 1, file_) == 1 &&
            std::fwrite(data, 1, size, file_) == size &&
            std::fwrite(kPadding, 1, padding, file_) == padding;
  failed_ = failed_ || !ok;
  if (ok) ++records_;
  return ok;
}

bool CaptureWriter::Close() {
  if (!file_) return false;
  unsigned char count[4];
  PutU32(count, static_cast<std::uint32_t>(records_));
  bool ok = !failed_ && std::fseek(file_, 8, SEEK_SET) == 0 &&
            std::fwrite(count, sizeof(count), 1, file_) == 1;
  ok = std::fclose(file_) == 0 && ok;
  file_ = nullptr;
  return ok;
}

}  // namespace infrared::bench
