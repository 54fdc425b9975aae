#include "cli/doc_command.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>

#include "base/result.h"
#include "crdt/doc.h"
#include "crdt/read_api.h"
#include "lib0/json.h"

namespace tandem::cli {

namespace {

using Bytes = std::vector<uint8_t>;

Result<Bytes> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFoundError("cannot read " + path);
  return Bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Writes through a temporary file and a rename, so a failure leaves nothing half-written.
Status WriteFile(const std::string& path, const Bytes& bytes) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return InvalidArgumentError("cannot write " + path);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    if (!out) return InvalidArgumentError("cannot write " + path);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return InvalidArgumentError("cannot write " + path);
  }
  return Status::Ok();
}

crdt::UpdateFormat FormatOf(const DocOptions& o) {
  return o.v2 ? crdt::UpdateFormat::kV2 : crdt::UpdateFormat::kV1;
}

int Fail(std::ostream& err, const std::string& message) {
  err << "tandem doc: " << message << "\n";
  return 2;
}

Status LoadInto(crdt::Doc& doc, const DocOptions& o, const std::string& path) {
  auto bytes = ReadFile(path);
  if (!bytes.ok()) return bytes.status();
  Status s = doc.ApplyUpdate(*bytes, FormatOf(o));
  return s.ok() ? s : Status(s.code(), path + ": " + s.message());
}

// The documents `tandem doc` loads only store what the files hold; they author nothing.
const crdt::DocOptions kReplica{.gc = true, .client_id = 0, .clean_up_formatting = false};

}  // namespace

int DocMerge(const DocOptions& o, const std::vector<std::string>& inputs,
             const std::string& out_path, std::ostream& err) {
  crdt::Doc doc(kReplica);
  for (const auto& path : inputs) {
    Status s = LoadInto(doc, o, path);
    if (!s.ok()) return Fail(err, s.message());
  }
  Status s = WriteFile(out_path, doc.EncodeStateAsUpdate({}, FormatOf(o)));
  return s.ok() ? 0 : Fail(err, s.message());
}

int DocJson(const DocOptions& o, const std::string& input, std::ostream& out, std::ostream& err) {
  crdt::Doc doc(kReplica);
  Status s = LoadInto(doc, o, input);
  if (!s.ok()) return Fail(err, s.message());
  auto json = crdt::DocToJsonChecked(doc);
  if (!json.ok()) return Fail(err, input + ": " + json.status().message());
  out << lib0::ToJson(*json) << "\n";
  return 0;
}

int DocStateVector(const DocOptions& o, const std::string& input, std::ostream& out,
                   std::ostream& err) {
  crdt::Doc doc(kReplica);
  Status s = LoadInto(doc, o, input);
  if (!s.ok()) return Fail(err, s.message());
  std::vector<std::pair<crdt::ClientId, crdt::Clock>> sv(doc.GetStateVector().begin(),
                                                         doc.GetStateVector().end());
  std::sort(sv.begin(), sv.end());
  lib0::Any::Object obj;
  for (const auto& [client, clock] : sv) {
    lib0::JsObjectSet(obj, std::to_string(client), lib0::Any(static_cast<double>(clock)));
  }
  out << lib0::ToJson(lib0::Any(std::move(obj))) << "\n";
  return 0;
}

int DocDiff(const DocOptions& o, const std::string& input, const std::string& sv_path,
            const std::string& out_path, std::ostream& err) {
  crdt::Doc doc(kReplica);
  Status s = LoadInto(doc, o, input);
  if (!s.ok()) return Fail(err, s.message());
  auto sv_bytes = ReadFile(sv_path);
  if (!sv_bytes.ok()) return Fail(err, sv_bytes.status().message());
  auto sv = crdt::DecodeStateVector(*sv_bytes);
  if (!sv.ok()) return Fail(err, sv_path + ": " + sv.status().message());
  s = WriteFile(out_path, doc.EncodeStateAsUpdate(*sv, FormatOf(o)));
  return s.ok() ? 0 : Fail(err, s.message());
}

}  // namespace tandem::cli
