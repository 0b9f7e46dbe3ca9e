#include "cli/import_online.h"

#include <simdjson.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <thread>

#include "cli/printers.h"
#include "cli/progress.h"
#include "ingest/chain_restore.h"
#include "schemas/sha256.h"

namespace waybill::cli {
namespace {

constexpr int kMaxInFlightWaits = 120;  // 409: the same chunk is still being processed
constexpr int kMaxUnavailableRetries = 5;
constexpr int kMaxTransportRetries = 2;

bool IsBlankLine(std::string_view line) {
  return line.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

// Sends bodies to the ingest route and folds the answers into one summary.
class OnlineImporter {
 public:
  OnlineImporter(ServerSession& session, const ImportRequest& request, std::uint64_t total_bytes)
      : session_(session),
        request_(request),
        target_("/v1/ingest/" + client::UrlEncode(request.format)),
        meter_("import", total_bytes, ProgressUnit::kBytes) {}

  // Sends one body. `origin` names the file in rejects; `first_line` is the file line of
  // the body's first line (0: not line-oriented). Returns kExitOk to go on, else the exit
  // code (the error is printed).
  int Send(std::string_view body, const std::string& origin, std::uint64_t first_line) {
    const int rc = SendOnce(body, origin, first_line);
    bytes_done_ += body.size();
    meter_.Update(bytes_done_, summary_.accepted + summary_.duplicates + summary_.rejected);
    return rc;
  }

  // Sends a canonical NDJSON stream chunk by chunk.
  int SendCanonical(std::istream& in, const std::string& origin) {
    std::string chunk;
    std::size_t chunk_lines = 0;
    bool has_content = false;
    std::uint64_t line_no = 0, chunk_first = 1;
    // Sends the chunk (unless it is all blank); the next one starts at line `next_first`.
    auto flush = [&](std::uint64_t next_first) -> int {
      int rc = kExitOk;
      if (has_content) {
        rc = Send(chunk, origin, chunk_first);
      } else {
        bytes_done_ += chunk.size();
      }
      chunk.clear();
      chunk_lines = 0;
      has_content = false;
      chunk_first = next_first;
      return rc;
    };
    // Adds line `line_no` (with its newline, if any).
    bool first_content = true;
    auto add = [&](std::string_view line) -> int {
      if (first_content && !IsBlankLine(line)) {
        first_content = false;
        if (ingest::CarriesLedgerFields(line)) {
          meter_.Clear();
          ReportError("import",
                      origin + ":" + std::to_string(line_no) +
                          ": this is a ledger export (its lines carry seq and hash); a chain "
                          "restore is offline only: run `waybill import --data-dir DIR --format "
                          "canonical` on an empty data dir (or one whose head the export "
                          "continues). --server would re-chain the events with new sequences "
                          "and hashes, so nothing was sent");
          return kExitUsage;
        }
      }
      if (chunk_lines > 0 && chunk.size() + line.size() > kChunkBytes) {
        if (int rc = flush(line_no); rc != kExitOk) return rc;
      }
      chunk.append(line);
      ++chunk_lines;
      if (!IsBlankLine(line)) has_content = true;
      if (chunk_lines == kChunkLines) return flush(line_no + 1);
      return kExitOk;
    };
    constexpr std::size_t kBlock = 4 << 20;
    std::string buf;
    std::size_t start = 0;
    for (;;) {
      if (start > 0) {
        buf.erase(0, start);
        start = 0;
      }
      const std::size_t old = buf.size();
      buf.resize(old + kBlock);
      in.read(buf.data() + old, static_cast<std::streamsize>(kBlock));
      const auto got = static_cast<std::size_t>(in.gcount());
      buf.resize(old + got);
      if (in.bad()) {
        return Fail(Status::IoError(origin + ": read failed: " + std::strerror(errno)));
      }
      std::size_t pos = 0;
      for (;;) {
        const std::size_t nl = buf.find('\n', pos);
        if (nl == std::string::npos) break;
        ++line_no;
        if (int rc = add(std::string_view(buf).substr(pos, nl + 1 - pos)); rc != kExitOk) {
          return rc;
        }
        pos = nl + 1;
      }
      start = pos;
      if (got == 0) {
        if (start < buf.size()) {
          ++line_no;
          if (int rc = add(std::string_view(buf).substr(start)); rc != kExitOk) return rc;
        }
        break;
      }
    }
    return flush(line_no + 1);
  }

  // Prints the summary (after an error: of what did land) and returns the exit code.
  int Finish(int rc) {
    meter_.Clear();
    if (rc != kExitOk) {
      std::cout << summary_.ToJson() << std::endl;
      return rc;
    }
    return PrintImportSummary(summary_, Status::Ok());
  }

  int Fail(const Status& st) {
    meter_.Clear();
    return session_.Failed(st);
  }

 private:
  int SendOnce(std::string_view body, const std::string& origin, std::uint64_t first_line) {
    Sha256Hasher hasher;
    hasher.Update(request_.format);
    hasher.Update(std::string_view("\n", 1));
    hasher.Update(request_.partner);
    hasher.Update(std::string_view("\n", 1));
    hasher.Update(body);
    client::HeaderList headers = {{"Idempotency-Key", "waybill-import-" + ToHex(hasher.Finish())}};
    if (!request_.partner.empty()) headers.emplace_back("Waybill-Partner", request_.partner);
    const char* type = "text/plain";
    if (request_.format == "canonical") {
      type = "application/x-ndjson";
    } else if (const std::size_t b = body.find_first_not_of(" \t\r\n");
               b != std::string_view::npos && (body[b] == '{' || body[b] == '[')) {
      type = "application/json";
    }
    headers.emplace_back("Content-Type", type);

    int in_flight = 0, unavailable = 0, transport = 0;
    for (;;) {
      auto reply = session_.Call("POST", target_, body, headers);
      if (!reply.ok()) {
        // Keyed: resending cannot apply the body twice.
        if (++transport > kMaxTransportRetries ||
            reply.status().message().rfind("cannot connect", 0) == 0) {
          return Fail(reply.status());
        }
        std::this_thread::sleep_for(std::chrono::seconds(1));
        continue;
      }
      if (reply->status == 409 && ++in_flight <= kMaxInFlightWaits) {
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        continue;
      }
      if (reply->status == 503 && ++unavailable <= kMaxUnavailableRetries) {
        std::this_thread::sleep_for(std::chrono::seconds(unavailable));
        continue;
      }
      if ((reply->status == 200 || reply->status == 422) &&
          Merge(*reply, origin, first_line) == kExitOk) {
        return kExitOk;
      }
      meter_.Clear();
      const int rc = session_.Refused(*reply);
      return rc == kExitRejected ? kExitRejected : kExitIoError;
    }
  }

  // Folds one ingest answer into the summary; kExitIoError when it is not one.
  int Merge(const client::HttpReply& reply, const std::string& origin, std::uint64_t first_line) {
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    ingest::ImportSummary s;
    if (parser.parse(reply.body).get(doc) != simdjson::SUCCESS ||
        doc["accepted"].get(s.accepted) != simdjson::SUCCESS ||
        doc["duplicates"].get(s.duplicates) != simdjson::SUCCESS ||
        doc["rejected"].get(s.rejected) != simdjson::SUCCESS) {
      return kExitIoError;
    }
    simdjson::dom::array dead_letters;
    if (doc["dead_letters"].get(dead_letters) == simdjson::SUCCESS) {
      for (simdjson::dom::element dl : dead_letters) {
        ingest::Reject r;
        r.origin = origin;
        std::uint64_t line = 0;
        std::string_view text;
        if (dl["id"].get(r.dead_letter_id) != simdjson::SUCCESS) return kExitIoError;
        if (dl["reason"].get(text) == simdjson::SUCCESS) r.reason = std::string(text);
        if (dl["position"].get(text) == simdjson::SUCCESS) r.position = std::string(text);
        if (dl["line"].get(line) == simdjson::SUCCESS && line != 0) {
          r.line = first_line != 0 ? first_line + line - 1 : line;
        }
        s.rejects.push_back(std::move(r));
      }
    }
    if (reply.header("Idempotency-Replayed") == "true") {
      s.duplicates += s.accepted;  // stored by the earlier request this one repeats
      s.accepted = 0;
    }
    summary_.Merge(s);
    return kExitOk;
  }

  ServerSession& session_;
  const ImportRequest& request_;
  const std::string target_;
  ProgressMeter meter_;
  ingest::ImportSummary summary_;
  std::uint64_t bytes_done_ = 0;
};

}  // namespace

int ImportOnline(const ImportRequest& request, const OnlineOptions& online,
                 const std::string& data_dir) {
  int open_rc = kExitIoError;
  auto session = ServerSession::Open("import", online, data_dir, &open_rc);
  if (!session) return open_rc;
  std::uint64_t total = 0;
  for (const auto& f : request.files) {
    struct stat st {};
    if (f != "-" && stat(f.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      total += static_cast<std::uint64_t>(st.st_size);
    }
  }
  OnlineImporter importer(*session, request, total);
  for (const auto& f : request.files) {
    const std::string origin = f == "-" ? "stdin" : f;
    int rc = kExitOk;
    if (request.format == "canonical") {
      if (f == "-") {
        rc = importer.SendCanonical(std::cin, origin);
      } else {
        std::ifstream in(f, std::ios::binary);
        rc = in ? importer.SendCanonical(in, origin)
                : importer.Fail(Status::IoError("cannot read " + f + ": " + std::strerror(errno)));
      }
    } else {
      Result<std::string> doc = ReadDocument(f == "-" ? "/dev/stdin" : f);
      rc = doc.ok() ? importer.Send(*doc, origin, 0) : importer.Fail(doc.status());
    }
    if (rc != kExitOk) return importer.Finish(rc);
  }
  return importer.Finish(kExitOk);
}

}  // namespace waybill::cli
