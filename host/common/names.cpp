#include "host/common/names.h"

#include <cctype>

#include "host/common/printable.h"

namespace ws {
namespace {

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsNameChar(char c) { return IsLowerAlnum(c) || c == '_' || c == '.' || c == '-'; }

}  // namespace

Status ValidateName(std::string_view name) {
  const std::string rule =
      "names are 1-63 characters of a-z, 0-9, '_', '.', '-', starting with a letter or digit";
  if (name.empty()) return {Code::kInvalidArgument, "workspace name is empty: " + rule};
  if (name.size() > kMaxNameLength) {
    return {Code::kInvalidArgument,
            "workspace name is " + std::to_string(name.size()) + " characters long: " + rule};
  }
  if (!IsLowerAlnum(name[0])) {
    return {Code::kInvalidArgument, "invalid workspace name '" + std::string(name) + "': " + rule};
  }
  for (char c : name) {
    if (!IsNameChar(c)) {
      return {Code::kInvalidArgument,
              "invalid workspace name '" + std::string(name) + "': " + rule};
    }
  }
  return Status::Ok();
}

std::string NameFromFolder(std::string_view folder) {
  std::string out;
  for (char c : folder) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (IsNameChar(c)) {
      out += c;
    } else if (!out.empty() && out.back() != '-') {
      out += '-';
    }
  }
  size_t start = 0;
  while (start < out.size() && !IsLowerAlnum(out[start])) ++start;
  out = out.substr(start);
  while (!out.empty() && out.back() == '-') out.pop_back();
  if (out.size() > kMaxNameLength) out.resize(kMaxNameLength);
  return out.empty() ? "workspace" : out;
}

Status CheckCheckpointLabel(std::string_view label) {
  if (label.empty() || label.size() > 64) {
    return Status(Code::kInvalidArgument, "a checkpoint label is 1 to 64 characters");
  }
  for (char c : label) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) {
      return Status(Code::kInvalidArgument,
                    "checkpoint label '" + Printable(label) +
                        "': use letters, digits, '-', '_' and '.' (e.g. before-install)");
    }
  }
  return Status::Ok();
}

}  // namespace ws
