#include "ingest/mapping/json_path.h"

#include <limits>

namespace waybill::ingest::mapping {
namespace {

std::string Quote(std::string_view s) {
  std::string q = "\"";
  q += s;
  q += '"';
  return q;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool IsControl(char ch) {
  const auto c = static_cast<unsigned char>(ch);
  return c < 0x20 || c == 0x7f;
}

}  // namespace

Result<JsonPath> JsonPath::Parse(std::string_view text) {
  JsonPath path;
  path.text_ = std::string(text);
  auto fail = [&](std::size_t pos, std::string_view reason) {
    return Status::Invalid("path " + Quote(text) + ": " + std::string(reason) + " at position " +
                           std::to_string(pos));
  };
  std::size_t i = 0;
  const std::size_t n = text.size();
  if (n == 0) return Status::Invalid("path \"\": must not be empty");
  if (text[0] == '$') {
    if (n == 1) return Status::Invalid("path \"$\": names the whole message, not a value");
    if (text[1] != '.') return fail(1, "expected '.' after '$'");
    i = 2;
  }
  bool expect_member = true;  // at the start and after '.'
  while (i < n) {
    if (expect_member) {
      const std::size_t start = i;
      while (i < n && text[i] != '.' && text[i] != '[' && text[i] != ']') {
        if (IsControl(text[i])) return fail(i, "control character");
        ++i;
      }
      if (i == start) return fail(start, "empty member name");
      PathStep step;
      step.kind = PathStep::Kind::kMember;
      step.name = std::string(text.substr(start, i - start));
      path.steps_.push_back(std::move(step));
      expect_member = false;
      continue;
    }
    const char c = text[i];
    if (c == '.') {
      ++i;
      if (i == n) return fail(i, "empty member name");
      expect_member = true;
      continue;
    }
    if (c != '[') return fail(i, "expected '.' or '['");
    const std::size_t open = i++;
    PathStep step;
    if (i < n && text[i] == '*') {
      step.kind = PathStep::Kind::kEach;
      ++i;
      ++path.each_count_;
    } else {
      step.kind = PathStep::Kind::kIndex;
      const std::size_t digits = i;
      std::uint64_t index = 0;
      while (i < n && IsDigit(text[i])) {
        index = index * 10 + static_cast<std::uint64_t>(text[i] - '0');
        if (index > std::numeric_limits<std::uint32_t>::max())
          return fail(digits, "index too large");
        ++i;
      }
      if (i == digits) return fail(digits, "expected an index (digits) or '*' inside []");
      step.index = static_cast<std::uint32_t>(index);
    }
    if (i >= n || text[i] != ']') return fail(open, "unclosed '['");
    ++i;
    path.steps_.push_back(std::move(step));
  }
  return path;
}

LookupResult Resolve(const JsonTree& tree, std::uint32_t from, const JsonPath& path,
                     std::size_t first, std::size_t last) {
  LookupResult r;
  std::uint32_t at = from;
  const std::vector<PathStep>& steps = path.steps();
  for (std::size_t s = first; s < last; ++s) {
    const PathStep& step = steps[s];
    const JsonNode& node = tree[at];
    r.step = s;
    if (node.type == JsonType::kNull) {
      r.outcome = Lookup::kMissing;  // null is the same as absent, also on the way down
      return r;
    }
    if (step.kind == PathStep::Kind::kMember) {
      if (node.type != JsonType::kObject) {
        r.outcome = Lookup::kWrongType;
        r.got = node.type;
        return r;
      }
      std::uint32_t found = 0;
      bool seen = false;
      for (std::uint32_t child = at + 1; child < node.end; child = tree[child].end) {
        if (tree[child].key == step.name) {
          if (seen) {
            r.outcome = Lookup::kDuplicate;
            return r;
          }
          seen = true;
          found = child;
        }
      }
      if (!seen) {
        r.outcome = Lookup::kMissing;
        return r;
      }
      at = found;
    } else if (step.kind == PathStep::Kind::kIndex) {
      if (node.type != JsonType::kArray) {
        r.outcome = Lookup::kWrongType;
        r.got = node.type;
        return r;
      }
      if (step.index >= node.size) {
        r.outcome = Lookup::kMissing;
        return r;
      }
      std::uint32_t child = at + 1;
      for (std::uint32_t k = 0; k < step.index; ++k) child = tree[child].end;
      at = child;
    } else {
      r.outcome = Lookup::kWrongType;  // callers never pass [*] steps; be safe anyway
      r.got = node.type;
      return r;
    }
  }
  r.outcome = Lookup::kFound;
  r.node = at;
  return r;
}

std::string RenderPath(std::string_view base, const JsonPath& path, std::size_t steps) {
  std::string out(base);
  const std::vector<PathStep>& all = path.steps();
  for (std::size_t s = 0; s < steps && s < all.size(); ++s) {
    switch (all[s].kind) {
      case PathStep::Kind::kMember:
        out += '.';
        out += all[s].name;
        break;
      case PathStep::Kind::kIndex:
        out += '[';
        out += std::to_string(all[s].index);
        out += ']';
        break;
      case PathStep::Kind::kEach:
        out += "[*]";
        break;
    }
  }
  return out;
}

}  // namespace waybill::ingest::mapping
