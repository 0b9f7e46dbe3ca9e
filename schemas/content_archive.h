// Compact cereal archives for stored records (event content, raw messages, dead letters).
//
// Wire format, in the order serialize() lists fields:
//   arithmetic and enums : little-endian, fixed width (sizeof the type)
//   sizes (strings, vectors): unsigned LEB128 varint
//   std::optional<T>     : bool (1 byte) "is empty", then T when present (cereal's layout)
//   byte arrays, strings : size varint, then the bytes
// Unlike cereal's BinaryArchive these write to / read from memory directly (no iostream, no
// per-field virtual calls) and use varint sizes instead of 8-byte ones; the hot paths
// (append, replay) run them a million times a second.
//
// Versioning is explicit: each record starts with a varint record version, exposed to
// serialize() functions as `ar.version()`. Fields are only ever appended, under
// `if (ar.version() >= N)`; a reader accepts every version up to its own.
//
// Thread-safety: an archive is a short-lived value owned by one thread.
#pragma once

#include <cereal/cereal.hpp>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

namespace waybill {

class ContentOutputArchive
    : public cereal::OutputArchive<ContentOutputArchive, cereal::AllowEmptyClassElision> {
 public:
  ContentOutputArchive(std::string* out, std::uint32_t version)
      : cereal::OutputArchive<ContentOutputArchive, cereal::AllowEmptyClassElision>(this),
        out_(out),
        version_(version) {
    WriteVarint(version);
  }
  std::uint32_t version() const { return version_; }
  void WriteBytes(const void* data, std::size_t size) {
    out_->append(static_cast<const char*>(data), size);
  }
  void WriteVarint(std::uint64_t v) {
    char buf[10];
    std::size_t n = 0;
    while (v >= 0x80) {
      buf[n++] = static_cast<char>(v | 0x80);
      v >>= 7;
    }
    buf[n++] = static_cast<char>(v);
    out_->append(buf, n);
  }

 private:
  std::string* out_;
  std::uint32_t version_;
};

// Throws cereal::Exception on truncated or malformed input; callers turn that into
// Status::Corruption.
class ContentInputArchive
    : public cereal::InputArchive<ContentInputArchive, cereal::AllowEmptyClassElision> {
 public:
  // Reads the record version; throws when it is newer than `max_version`.
  ContentInputArchive(std::string_view bytes, std::uint32_t max_version)
      : cereal::InputArchive<ContentInputArchive, cereal::AllowEmptyClassElision>(this),
        p_(bytes.data()),
        end_(bytes.data() + bytes.size()) {
    const std::uint64_t v = ReadVarint();
    if (v == 0 || v > max_version) {
      throw cereal::Exception("record version " + std::to_string(v) +
                              " is not supported (this build reads up to " +
                              std::to_string(max_version) + ")");
    }
    version_ = static_cast<std::uint32_t>(v);
  }
  std::uint32_t version() const { return version_; }
  std::size_t remaining() const { return static_cast<std::size_t>(end_ - p_); }
  void ReadBytes(void* data, std::size_t size) {
    if (size > remaining()) [[unlikely]]
      Fail("truncated", size);
    std::memcpy(data, p_, size);
    p_ += size;
  }
  // Returns a view of the next `size` bytes and skips them.
  std::string_view TakeBytes(std::size_t size) {
    if (size > remaining()) [[unlikely]]
      Fail("truncated", size);
    std::string_view v(p_, size);
    p_ += size;
    return v;
  }
  std::uint64_t ReadVarint() {
    if (p_ != end_ && !(static_cast<std::uint8_t>(*p_) & 0x80)) [[likely]] {
      return static_cast<std::uint8_t>(*p_++);
    }
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ == end_) [[unlikely]]
        Fail("truncated inside a varint", 1);
      const auto b = static_cast<std::uint8_t>(*p_++);
      v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    Fail("has a malformed varint", 0);
  }
  // A size can never exceed the bytes left: every element takes at least one byte. This
  // keeps a corrupted length from allocating gigabytes before the read fails.
  std::uint64_t ReadSize() {
    const std::uint64_t n = ReadVarint();
    if (n > remaining()) [[unlikely]]
      Fail("declares more elements than bytes left", n);
    return n;
  }

 private:
  [[noreturn, gnu::cold, gnu::noinline]] void Fail(const char* what, std::uint64_t n) const {
    throw cereal::Exception(std::string("record ") + what + " (" + std::to_string(n) + " needed, " +
                            std::to_string(remaining()) + " bytes left)");
  }

  const char* p_;
  const char* end_;
  std::uint32_t version_ = 0;
};

template <class T>
inline std::enable_if_t<std::is_arithmetic_v<T>> CEREAL_SAVE_FUNCTION_NAME(ContentOutputArchive& ar,
                                                                           const T& t) {
  ar.WriteBytes(std::addressof(t), sizeof(t));
}

template <class T>
inline std::enable_if_t<std::is_arithmetic_v<T>> CEREAL_LOAD_FUNCTION_NAME(ContentInputArchive& ar,
                                                                           T& t) {
  ar.ReadBytes(std::addressof(t), sizeof(t));
}

template <class Archive, class T>
inline CEREAL_ARCHIVE_RESTRICT(ContentInputArchive, ContentOutputArchive)
    CEREAL_SERIALIZE_FUNCTION_NAME(Archive& ar, cereal::NameValuePair<T>& t) {
  ar(t.value);
}

template <class T>
inline void CEREAL_SAVE_FUNCTION_NAME(ContentOutputArchive& ar, const cereal::SizeTag<T>& t) {
  ar.WriteVarint(static_cast<std::uint64_t>(t.size));
}

template <class T>
inline void CEREAL_LOAD_FUNCTION_NAME(ContentInputArchive& ar, cereal::SizeTag<T>& t) {
  t.size = static_cast<std::remove_reference_t<T>>(ar.ReadSize());
}

// Strings are written as size + bytes, like cereal's own string support (which these
// archives replace: do not include cereal/types/string.hpp with them), but loaded with one
// assign instead of a zero-filling resize and a copy.
inline void CEREAL_SAVE_FUNCTION_NAME(ContentOutputArchive& ar, const std::string& s) {
  ar.WriteVarint(s.size());
  ar.WriteBytes(s.data(), s.size());
}

inline void CEREAL_LOAD_FUNCTION_NAME(ContentInputArchive& ar, std::string& s) {
  const std::string_view bytes = ar.TakeBytes(ar.ReadSize());
  s.assign(bytes.data(), bytes.size());
}

template <class T>
inline void CEREAL_SAVE_FUNCTION_NAME(ContentOutputArchive& ar, const cereal::BinaryData<T>& bd) {
  ar.WriteBytes(bd.data, static_cast<std::size_t>(bd.size));
}

template <class T>
inline void CEREAL_LOAD_FUNCTION_NAME(ContentInputArchive& ar, cereal::BinaryData<T>& bd) {
  ar.ReadBytes(bd.data, static_cast<std::size_t>(bd.size));
}

}  // namespace waybill

CEREAL_REGISTER_ARCHIVE(waybill::ContentOutputArchive)
CEREAL_REGISTER_ARCHIVE(waybill::ContentInputArchive)
CEREAL_SETUP_ARCHIVE_TRAITS(waybill::ContentInputArchive, waybill::ContentOutputArchive)
